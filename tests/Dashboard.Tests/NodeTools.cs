using System.Diagnostics;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>Node and tsc (the browser client's, installed by the test script) for the contracts tests.</summary>
internal static class NodeTools
{
    public static string Tsc
    {
        get
        {
            var tsc = Path.Combine(TestEnvironment.RepositoryRoot, "src", "browser-client", "node_modules", "typescript", "bin", "tsc");
            Assert.True(File.Exists(tsc), $"{tsc} is missing: run the suite with scripts/test.sh (it runs npm ci in src/browser-client).");
            return tsc;
        }
    }

    /// <summary>Runs a command in a folder; its exit code and everything it printed.</summary>
    public static async Task<(int Exit, string Output)> RunAsync(string command, string folder, params string[] arguments)
    {
        var start = new ProcessStartInfo(command, arguments) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }
}

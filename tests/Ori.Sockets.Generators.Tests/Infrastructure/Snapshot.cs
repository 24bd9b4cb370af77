using System.Runtime.CompilerServices;

namespace Ori.Sockets.Generators.Tests.Infrastructure;

/// <summary>
/// Snapshot files: <c>Snapshots/Name.verified.cs</c> is checked in; on a mismatch the actual text is
/// written to <c>Name.received.cs</c> (git-ignored) beside it. Set ORI_ACCEPT_SNAPSHOTS=1 to accept.
/// </summary>
internal static class Snapshot
{
    public static void Verify(string name, string actual, [CallerFilePath] string callerPath = "")
    {
        var folder = Path.Combine(FindProjectFolder(callerPath), "Snapshots");
        var verified = Path.Combine(folder, name + ".verified.cs");
        var received = Path.Combine(folder, name + ".received.cs");
        actual = Normalize(actual);
        if (Environment.GetEnvironmentVariable("ORI_ACCEPT_SNAPSHOTS") == "1")
        {
            Directory.CreateDirectory(folder);
            File.WriteAllText(verified, actual);
            File.Delete(received);
            return;
        }

        var expected = File.Exists(verified) ? Normalize(File.ReadAllText(verified)) : null;
        if (expected == actual)
        {
            File.Delete(received);
            return;
        }

        File.WriteAllText(received, actual);
        Assert.Fail(expected is null
            ? $"No snapshot {verified}; the output is in {received}. Review it and run with ORI_ACCEPT_SNAPSHOTS=1 to accept."
            : $"The output differs from {verified}; see {received}. Review the difference and run with ORI_ACCEPT_SNAPSHOTS=1 to accept.");
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal).TrimStart('\uFEFF').TrimEnd() + "\n";

    // The caller's path first; under ContinuousIntegrationBuild it is mapped (/_/...), so the output folder next.
    private static string FindProjectFolder(string callerPath) =>
        FindUp(Path.GetDirectoryName(callerPath)) ?? FindUp(AppContext.BaseDirectory)
        ?? throw new InvalidOperationException($"No test project above {callerPath} or {AppContext.BaseDirectory}.");

    private static string? FindUp(string? start)
    {
        for (var folder = start; !string.IsNullOrEmpty(folder); folder = Path.GetDirectoryName(folder))
        {
            if (File.Exists(Path.Combine(folder, "Ori.Sockets.Generators.Tests.csproj")))
            {
                return folder;
            }
        }

        return null;
    }
}

using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Generators.Tests.Infrastructure;

/// <summary>
/// Snapshot files: <c>Snapshots/Name.verified.cs</c> is checked in; on a mismatch the actual text is
/// written to <c>Name.received.cs</c> (git-ignored) beside it. Set ORI_ACCEPT_SNAPSHOTS=1 to accept.
/// </summary>
internal static class Snapshot
{
    public static void Verify(string name, string actual)
    {
        var folder = Path.Combine(TestEnvironment.RepositoryRoot, "tests", "Ori.Sockets.Generators.Tests", "Snapshots");
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
}

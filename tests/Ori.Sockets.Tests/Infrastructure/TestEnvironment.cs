using System.Net;
using System.Net.Sockets;

namespace Ori.Sockets.Tests.Infrastructure;

/// <summary>What every test project needs from its machine: a free loopback port, the repository's folder.</summary>
internal static class TestEnvironment
{
    /// <summary>The folder of Ori.Sockets.sln, found above the test's output folder.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>A loopback port that was free a moment ago (for servers that must be started again on the same port).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindRepositoryRoot()
    {
        for (var folder = AppContext.BaseDirectory; !string.IsNullOrEmpty(folder); folder = Path.GetDirectoryName(folder))
        {
            if (File.Exists(Path.Combine(folder, "Ori.Sockets.sln")))
            {
                return folder;
            }
        }

        throw new DirectoryNotFoundException($"No Ori.Sockets.sln above {AppContext.BaseDirectory}.");
    }
}

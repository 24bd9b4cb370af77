using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>
/// The Dashboard in a child process with a socket listener (<c>Dashboard:ListenerPort</c>) and a limit of 256 open
/// descriptors (<c>ulimit -n</c>): connections past it leave the listener's accept failing with EMFILE while they wait
/// in the kernel's queue. The accept loop must wait between tries instead of spinning a core, say so (event 44, at
/// most once a second), and serve again once descriptors are free.
/// </summary>
public sealed class DescriptorExhaustionTests
{
    private const int DescriptorLimit = 256;

    [Fact]
    public async Task A_listener_out_of_descriptors_waits_between_accepts_warns_and_serves_again_once_some_close()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var port = TestEnvironment.FreePort();
        var listenerPort = TestEnvironment.FreePort();
        var output = new ConcurrentQueue<string>();
        using var child = DashboardProcess.Start(port, ["--Dashboard:ListenerPort", listenerPort.ToString(CultureInfo.InvariantCulture)], DescriptorLimit, output.Enqueue);
        var held = new List<Socket>();
        try
        {
            await DashboardProcess.WaitReadyAsync(port);
            Assert.Contains(File.ReadLines($"/proc/{child.Id}/limits"), line => line.StartsWith("Max open files", StringComparison.Ordinal) && line.Contains($" {DescriptorLimit} ", StringComparison.Ordinal));

            // More connections than the server has descriptors: the kernel completes every handshake (its queue holds 512)
            // and the listener accepts until none is left. The accepted ones wait for their head (10 s), the rest queue.
            for (var i = 0; i < DescriptorLimit + 64; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                held.Add(socket);
                await socket.ConnectAsync(IPAddress.Loopback, listenerPort, cancellationToken);
            }

            await Eventually.TrueAsync(() => Warnings(output) > 0, TimeSpan.FromSeconds(5));

            // Still out of descriptors: an accept loop that tried again at once would keep a core busy all along.
            var (cpuBefore, warningsBefore) = (CpuSeconds(child.Id), Warnings(output));
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            var (cpu, warnings) = (CpuSeconds(child.Id) - cpuBefore, Warnings(output) - warningsBefore);
            TestContext.Current.TestOutputHelper?.WriteLine($"out of descriptors for 2 s: {cpu:F2} s of CPU, {warnings} warnings");
            Assert.True(cpu < 1.0, $"The server used {cpu:F2} s of CPU in 2 s while it could not accept.");
            Assert.InRange(warnings, 1, 3);
            Assert.False(child.HasExited);

            foreach (var socket in held)
            {
                socket.Dispose();
            }

            held.Clear();

            // The descriptors come back as the server sees those connections end: the listener serves a WebSocket again.
            await Eventually.TrueAsync(async () =>
            {
                try
                {
                    await using var client = await TestClient.ConnectAsync(new Uri($"ws://127.0.0.1:{listenerPort}/ws?token=alice-token"));
                    await client.ReadyAsync();
                    return true;
                }
                catch (Exception ex) when (ex is WebSocketException or IOException or TimeoutException or OperationCanceledException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(20));
        }
        finally
        {
            foreach (var socket in held)
            {
                socket.Dispose();
            }

            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true);
            }
        }
    }

    private static int Warnings(ConcurrentQueue<string> output) => output.Count(line => line.Contains("Ori.Sockets[44]", StringComparison.Ordinal));

    /// <summary>User and system CPU of a process, from <c>/proc/PID/stat</c> (clock ticks of 10 ms).</summary>
    private static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }
}

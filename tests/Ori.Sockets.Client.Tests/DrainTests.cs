using System.Collections.Concurrent;
using System.Diagnostics;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Client.Tests;

[CollectionDefinition(nameof(DrainTests), DisableParallelization = true)]
public sealed class DrainRunsAlone;

/// <summary>
/// A graceful drain with a couple of thousand real clients: the server closes its sockets over the window, and the
/// clients, told to wait by ori.draining, come back to the other instance spread out too. Runs alone (timing).
/// </summary>
[Collection(nameof(DrainTests))]
public sealed class DrainTests
{
    private const int Clients = 2000;
    private static readonly TimeSpan s_window = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan s_reconnectAfter = TimeSpan.FromMilliseconds(500);

    [Fact]
    public async Task Shutdown_spreads_the_closes_over_the_window_and_the_clients_reconnect_to_another_instance_spread_out_too()
    {
        await using var a = await ChatServer.StartAsync(o => { o.DrainWindow = s_window; o.DrainReconnectDelay = s_reconnectAfter; }, shutdownTimeout: TimeSpan.FromSeconds(20));
        await using var b = await ChatServer.StartAsync();
        await using var balancer = new FreezableProxy(a.Port);
        var uri = new Uri($"ws://127.0.0.1:{balancer.Port}/ws?token=ok");

        var clock = Stopwatch.StartNew();
        var closedAt = new ConcurrentDictionary<int, double>();
        var backAt = new ConcurrentDictionary<int, double>();
        var clients = new OriSocketClient[Clients];
        for (var i = 0; i < Clients; i++)
        {
            var index = i;
            clients[i] = new OriSocketClient(uri, new OriSocketClientOptions { ReconnectInitialDelay = TimeSpan.FromMilliseconds(200), ConnectTimeout = TimeSpan.FromSeconds(30) });
            clients[i].StateChanged += change =>
            {
                if (change is { Previous: OriSocketClientState.Connected, Current: OriSocketClientState.Reconnecting, CloseStatus: 1001 })
                {
                    closedAt[index] = clock.Elapsed.TotalMilliseconds;
                }
                else if (change is { Previous: OriSocketClientState.Reconnecting, Current: OriSocketClientState.Connected })
                {
                    backAt[index] = clock.Elapsed.TotalMilliseconds;
                }
            };
        }

        try
        {
            foreach (var batch in clients.Chunk(100))
            {
                await Task.WhenAll(batch.Select(c => c.ConnectAsync(TestContext.Current.CancellationToken)));
            }

            Assert.Equal(Clients, a.Provider.ConnectionCount);

            // The load balancer sends new connections to B from now on; A shuts down.
            balancer.Target = b.Port;
            var stopping = clock.Elapsed.TotalMilliseconds;
            await a.StopAsync();
            var stopped = clock.Elapsed.TotalMilliseconds;

            await Eventually.TrueAsync(() => backAt.Count == Clients && b.Provider.ConnectionCount == Clients, TimeSpan.FromSeconds(60));
            Assert.Equal(Clients, closedAt.Count);

            var closes = closedAt.Values.Select(t => t - stopping).Order().ToArray();
            var reconnects = backAt.Values.Select(t => t - stopping).Order().ToArray();
            var closesPeak = PeakPer100Ms(closes);
            var reconnectsPeak = PeakPer100Ms(reconnects);
            var earliest = Enumerable.Range(0, Clients).Min(i => backAt[i] - closedAt[i]);
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"drain of {Clients} sockets over {s_window.TotalMilliseconds} ms: closes from {closes[0]:F0} to {closes[^1]:F0} ms, peak {closesPeak} per 100 ms; " +
                $"reconnects from {reconnects[0]:F0} to {reconnects[^1]:F0} ms, peak {reconnectsPeak} per 100 ms; shortest close-to-reconnect {earliest:F0} ms; host stopped in {stopped - stopping:F0} ms");

            // Spread over the window: all at once would put most of them in one 100 ms bucket. Even spreading is 100 per 100 ms.
            Assert.True(closes[^1] - closes[0] >= s_window.TotalMilliseconds * 0.8, $"closes spanned {closes[^1] - closes[0]:F0} ms");
            Assert.InRange(closesPeak, 1, Clients / 20 * 3);
            Assert.True(reconnects[^1] - reconnects[0] >= s_window.TotalMilliseconds * 0.8, $"reconnects spanned {reconnects[^1] - reconnects[0]:F0} ms");
            Assert.InRange(reconnectsPeak, 1, Clients / 20 * 3);

            // Every client waited at least what ori.draining asked for (less a little for the timers' granularity).
            Assert.True(earliest >= s_reconnectAfter.TotalMilliseconds - 20, $"a client reconnected {earliest:F0} ms after its close");

            // And the host stopped within its window plus the closes' handshakes, not at its 20 s shutdown timeout.
            Assert.True(stopped - stopping < 10_000, $"the host took {stopped - stopping:F0} ms to stop");
        }
        finally
        {
            foreach (var batch in clients.Chunk(200))
            {
                await Task.WhenAll(batch.Select(c => c.DisposeAsync().AsTask()));
            }
        }
    }

    private static int PeakPer100Ms(double[] times) =>
        times.GroupBy(t => (int)Math.Floor(t / 100)).Max(g => g.Count());
}

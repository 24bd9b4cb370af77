using System.Diagnostics;

namespace Ori.Sockets.LoadTool;

internal static class Scenarios
{
    private const int LatencySamplers = 50;

    /// <summary>Deliveries per second that the paced phase asks of both servers (well under either one's capacity).</summary>
    private const int PacedDeliveriesPerSecond = 50_000;

    /// <summary>C subscribers of one topic; pushes published in the server; every delivery counted.</summary>
    /// <remarks>
    /// Three phases, one after the other on the same sockets: a warm-up burst of the same size (not counted, published
    /// in two halves), so that both servers are measured tiered up and with their buffers grown; the measured burst of M pushes published back to back
    /// (throughput, CPU, send syscalls, and the burst's latencies); then a paced phase that publishes at a fixed
    /// rate of <see cref="PacedDeliveriesPerSecond"/> deliveries per second for the latency figures. In a burst,
    /// latency from publish to receipt mostly says how long the backlog takes to drain, and a server whose
    /// publish call waits for the network stamps later messages later: the paced phase compares like with like.
    /// </remarks>
    /// <param name="server">The server the subscribers are connected to (and, without <paramref name="publisher"/>, the one that publishes).</param>
    /// <param name="protocol">The servers' protocol.</param>
    /// <param name="subscribers">How many subscribers.</param>
    /// <param name="messages">Pushes in the measured burst.</param>
    /// <param name="publisher">Another instance that publishes (the cross-instance scenario), or null.</param>
    /// <param name="others">More processes whose CPU counts (the publishing instance, redis-server), each reported by name.</param>
    /// <param name="user">Every subscriber is this user and the pushes are sent to the user instead of a topic, or null.</param>
    public static async Task<Dictionary<string, double>> FanOutAsync(
        ServerProcess server, IProtocol protocol, int subscribers, int messages, ServerProcess? publisher = null, IReadOnlyList<(string Name, Func<double> Cpu)>? others = null, string? user = null)
    {
        var origin = publisher ?? server;
        others ??= [];
        var sockets = await ConnectManyAsync(server, protocol, subscribers, join: user is null, user);
        var warmUp = messages;
        var pacedInterval = TimeSpan.FromSeconds(subscribers / (double)PacedDeliveriesPerSecond);
        var paced = (int)Math.Clamp(TimeSpan.FromSeconds(3) / pacedInterval, 10, 200);
        int[] phases = [warmUp, messages, paced];
        var perSocket = phases.Sum();
        var reached = phases.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var phaseEnds = new long[phases.Length];
        for (var p = 0; p < phases.Length; p++)
        {
            phaseEnds[p] = (long)subscribers * phases[..(p + 1)].Sum();
        }

        long delivered = 0;
        var times = new List<long>[Math.Min(LatencySamplers, subscribers)];
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var receivers = sockets.Select((socket, i) => Task.Run(async () =>
        {
            var mine = 0;
            var sample = i < times.Length ? times[i] = new List<long>(perSocket) : null;
            await socket.ReceiveAsync(frame =>
            {
                var now = Stopwatch.GetTimestamp();
                var before = sample?.Count ?? 0;
                var n = protocol.CountTicks(frame.Span, sample);
                if (sample is not null)
                {
                    for (var k = before; k < sample.Count; k++)
                    {
                        sample[k] = now - sample[k];
                    }
                }

                mine += n;
                var total = Interlocked.Add(ref delivered, n);
                for (var p = 0; p < phaseEnds.Length; p++)
                {
                    if (total >= phaseEnds[p])
                    {
                        reached[p].TrySetResult();
                    }
                }

                return mine < perSocket;
            }, stop.Token);
        })).ToList();

        // Warm-up, in two halves, the JIT left to settle after each: tiering takes three steps (tier 0, instrumented,
        // optimized), each made by calls after the one before is compiled, and the compiles queue up behind the hundreds
        // the first burst asks for. After one settled burst the publish path was still instrumented, and the measured
        // burst paid for its final compiles (measured: the JIT's thread took 8 % of the server's samples at 5,000).
        var firstHalf = warmUp / 2;
        await origin.PublishAsync(firstHalf, 150, user: user);
        while (Interlocked.Read(ref delivered) < (long)subscribers * firstHalf && !stop.IsCancellationRequested)
        {
            await Task.Delay(10);
        }

        await SettleAsync();
        await origin.PublishAsync(warmUp - firstHalf, 150, user: user);
        await Task.WhenAny(reached[0].Task, Task.Delay(TimeSpan.FromSeconds(30)));
        await SettleAsync();

        var warmDelivered = Interlocked.Read(ref delivered);

        // The measured burst, its memory sampled every 10 ms meanwhile: the server's resident memory and the kernel's TCP
        // buffers (all sockets of the machine: the backlog a server hands the kernel at once waits there, not in its RSS).
        var othersCpu = new double[others.Count];
        using var sampling = new CancellationTokenSource();
        var peaks = Task.Run(async () =>
        {
            var (rss, tcp, both) = (0L, 0L, 0L);
            while (!sampling.IsCancellationRequested)
            {
                var (r, t) = (server.RssBytes(), KernelTcpBytes());
                (rss, tcp, both) = (Math.Max(rss, r), Math.Max(tcp, t), Math.Max(both, r + t));
                await Task.Delay(10);
            }

            return (Rss: rss, Tcp: tcp, Both: both);
        });
        var m = await server.MeasureAsync($"fanout-{subscribers}", async () =>
        {
            for (var o = 0; o < others.Count; o++)
            {
                othersCpu[o] = others[o].Cpu();
            }

            await origin.PublishAsync(messages, 150, user: user);
            await Task.WhenAny(reached[1].Task, Task.Delay(TimeSpan.FromSeconds(30)));
            for (var o = 0; o < others.Count; o++)
            {
                othersCpu[o] = others[o].Cpu() - othersCpu[o];
            }
        });
        var rss = server.RssBytes();
        var dirty = server.DirtyBytes();
        await sampling.CancelAsync();
        var peak = await peaks;
        var measured = Interlocked.Read(ref delivered) - warmDelivered;

        // The paced phase.
        await Task.Delay(500);
        await origin.PublishAsync(paced, 150, pacedInterval, user);
        await Task.WhenAny(reached[2].Task, Task.Delay(TimeSpan.FromSeconds(30)));
        var pacedDelivered = Interlocked.Read(ref delivered) - warmDelivered - measured;
        await stop.CancelAsync();

        async Task SettleAsync()
        {
            await server.SettleJitAsync(TimeSpan.FromSeconds(10));
            if (publisher is not null)
            {
                await publisher.SettleJitAsync(TimeSpan.FromSeconds(10));
            }
        }

        List<double> Latencies(int skip, int take) =>
            [.. times.Where(t => t is not null).SelectMany(t => t.Skip(skip).Take(take)).Select(t => t * 1000.0 / Stopwatch.Frequency).Order()];
        var burst = Latencies(warmUp, messages);
        var steady = Latencies(warmUp + messages, paced);
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }

        var figures = new Dictionary<string, double>
        {
            ["deliveries"] = measured,
            ["expected"] = (long)subscribers * messages,
            ["seconds"] = m.Seconds,
            ["deliveries_per_second"] = measured / m.Seconds,
            ["server_cpu_seconds"] = m.ServerCpuSeconds,
            ["deliveries_per_server_cpu_second"] = m.ServerCpuSeconds > 0 ? measured / m.ServerCpuSeconds : 0,
            ["server_cpu_seconds_per_million"] = measured > 0 ? m.ServerCpuSeconds / (measured / 1e6) : 0,
            ["burst_latency_p50_ms"] = Percentile(burst, 0.50),
            ["burst_latency_p99_ms"] = Percentile(burst, 0.99),
            ["server_rss_mb"] = rss / 1048576.0,
            ["server_dirty_mb"] = dirty / 1048576.0,
            ["server_rss_peak_mb"] = peak.Rss / 1048576.0,
            ["kernel_tcp_peak_mb"] = peak.Tcp / 1048576.0,
            ["server_rss_and_kernel_tcp_peak_mb"] = peak.Both / 1048576.0,
            ["tool_cpu_seconds"] = m.ToolCpuSeconds,
            ["send_syscalls"] = m.SendSyscalls,
            ["deliveries_per_send_syscall"] = m.SendSyscalls > 0 ? measured / (double)m.SendSyscalls : 0,
            ["server_bytes_allocated_per_delivery"] = measured > 0 ? m.AllocatedBytes / (double)measured : 0,
            ["server_gen0_collections"] = m.Gen0Collections,
            ["server_gen2_collections"] = m.Gen2Collections,
            ["paced_deliveries_per_second"] = PacedDeliveriesPerSecond,
            ["paced_deliveries"] = pacedDelivered,
            ["latency_p50_ms"] = Percentile(steady, 0.50),
            ["latency_p99_ms"] = Percentile(steady, 0.99),
        };
        if (others.Count > 0)
        {
            var all = m.ServerCpuSeconds + othersCpu.Sum();
            for (var o = 0; o < others.Count; o++)
            {
                figures[$"{others[o].Name}_cpu_seconds"] = othersCpu[o];
            }

            figures["all_cpu_seconds"] = all;
            figures["deliveries_per_cpu_second_all"] = all > 0 ? measured / all : 0;
        }

        return figures;
    }

    /// <summary>K connections each sending an echo request and waiting for its reply, for a while.</summary>
    /// <remarks>The loops run for a warm-up period first (not counted), so that the server is measured tiered up.</remarks>
    public static async Task<Dictionary<string, double>> EchoAsync(ServerProcess server, IProtocol protocol, int connections, TimeSpan warmUp, TimeSpan duration)
    {
        var sockets = await ConnectManyAsync(server, protocol, connections, join: false);
        long requests = 0;
        var measuring = 0;
        var latencies = new List<double>[connections];
        using var stop = new CancellationTokenSource();
        var loops = Task.WhenAll(sockets.Select((socket, i) => Task.Run(async () =>
        {
            var mine = latencies[i] = [];
            var id = 0;
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    var key = (++id).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    var started = Stopwatch.GetTimestamp();
                    await socket.SendTextAsync(protocol.EchoMessage(id), stop.Token);
                    await socket.ReceiveAsync(frame => !protocol.IsReply(frame.Span, key), stop.Token);
                    if (Volatile.Read(ref measuring) == 1)
                    {
                        mine.Add((Stopwatch.GetTimestamp() - started) * 1000.0 / Stopwatch.Frequency);
                        Interlocked.Increment(ref requests);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        })));
        await Task.Delay(warmUp);
        await server.SettleJitAsync(TimeSpan.FromSeconds(10));
        var m = await server.MeasureAsync("echo", async () =>
        {
            Volatile.Write(ref measuring, 1);
            stop.CancelAfter(duration);
            await loops;
        });
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }

        var all = latencies.SelectMany(l => l).Order().ToList();
        return new Dictionary<string, double>
        {
            ["requests"] = requests,
            ["requests_per_second"] = requests / m.Seconds,
            ["server_cpu_seconds"] = m.ServerCpuSeconds,
            ["requests_per_server_cpu_second"] = m.ServerCpuSeconds > 0 ? requests / m.ServerCpuSeconds : 0,
            ["latency_p50_ms"] = Percentile(all, 0.50),
            ["latency_p99_ms"] = Percentile(all, 0.99),
            ["tool_cpu_seconds"] = m.ToolCpuSeconds,
            ["send_syscalls"] = m.SendSyscalls,
            ["replies_per_send_syscall"] = m.SendSyscalls > 0 ? requests / (double)m.SendSyscalls : 0,
            ["server_bytes_allocated_per_request"] = requests > 0 ? m.AllocatedBytes / (double)requests : 0,
            ["server_gen0_collections"] = m.Gen0Collections,
        };
    }

    /// <summary>
    /// N connections that do nothing: resident memory per connection as it is two seconds after they connected, and
    /// again after a full collection in both measurements (POST /collect: the garbage of connecting is gone, free memory
    /// given back; the server's GC heap, or Bun's JavaScript heap, per connection too).
    /// </summary>
    public static async Task<Dictionary<string, double>> IdleAsync(ServerProcess server, IProtocol protocol, int connections)
    {
        // Warm-up: the connect path compiled and tiered up (twice a fifth of the connections, connected and closed, then
        // until the JIT is done), so that the CPU per connect is a steady server's.
        for (var round = 0; round < 2; round++)
        {
            foreach (var socket in await ConnectManyAsync(server, protocol, connections / 5, join: false))
            {
                socket.Dispose();
            }

            await Task.Delay(500);
        }

        await server.SettleJitAsync(TimeSpan.FromSeconds(10));
        var before = server.RssBytes();
        var heapBefore = await server.CollectAsync();
        var collectedBefore = server.RssBytes();
        List<RawWebSocket> sockets = [];
        var connect = await server.MeasureAsync($"connect-{connections}", async () => sockets = await ConnectManyAsync(server, protocol, connections, join: false));
        var connectCpu = connect.ServerCpuSeconds;
        await Task.Delay(2000);
        var after = server.RssBytes();
        var heapAfter = await server.CollectAsync();
        await Task.Delay(500);
        var collectedAfter = server.RssBytes();
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }

        return new Dictionary<string, double>
        {
            ["connections"] = connections,
            ["server_rss_before_mb"] = before / 1048576.0,
            ["server_rss_after_mb"] = after / 1048576.0,
            ["bytes_per_connection"] = (after - before) / (double)connections,
            ["bytes_per_connection_collected"] = (collectedAfter - collectedBefore) / (double)connections,
            ["heap_bytes_per_connection"] = (heapAfter - heapBefore) / (double)connections,
            ["server_cpu_microseconds_per_connect"] = connectCpu * 1e6 / connections,
            ["server_bytes_allocated_per_connect"] = connect.AllocatedBytes / (double)connections,
        };
    }

    /// <summary>
    /// Connections that each join a room, on an instance scaled out through Redis: what connecting and leaving cost the
    /// server (CPU) and Redis (CPU, commands), and the memory each idle member holds on the server and in Redis.
    /// </summary>
    public static async Task<Dictionary<string, double>> PresenceAsync(ServerProcess server, RedisProcess redis, IProtocol protocol, int connections)
    {
        await Task.Delay(1000);
        var rss0 = server.RssBytes();
        var memory0 = await redis.InfoAsync("used_memory");
        var commands0 = await redis.InfoAsync("total_commands_processed");
        var (cpu0, redisCpu0) = (server.CpuSeconds(), redis.CpuSeconds());
        var sockets = await ConnectManyAsync(server, protocol, connections, join: true);
        await Task.Delay(2000);
        var (cpu1, redisCpu1) = (server.CpuSeconds(), redis.CpuSeconds());
        var commands1 = await redis.InfoAsync("total_commands_processed");
        var rss1 = server.RssBytes();
        var memory1 = await redis.InfoAsync("used_memory");
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }

        await Task.Delay(3000);
        var (cpu2, redisCpu2) = (server.CpuSeconds(), redis.CpuSeconds());
        var commands2 = await redis.InfoAsync("total_commands_processed");
        return new Dictionary<string, double>
        {
            ["connections"] = connections,
            ["connect_and_join_server_cpu_us"] = (cpu1 - cpu0) * 1e6 / connections,
            ["connect_and_join_redis_cpu_us"] = (redisCpu1 - redisCpu0) * 1e6 / connections,
            ["connect_and_join_redis_commands"] = (commands1 - commands0 - 3) / (double)connections,
            ["disconnect_server_cpu_us"] = (cpu2 - cpu1) * 1e6 / connections,
            ["disconnect_redis_commands"] = (commands2 - commands1 - 3) / (double)connections,
            ["server_bytes_per_member"] = (rss1 - rss0) / (double)connections,
            ["redis_bytes_per_member"] = (memory1 - memory0) / (double)connections,
        };
    }

    private static async Task<List<RawWebSocket>> ConnectManyAsync(ServerProcess server, IProtocol protocol, int count, bool join, string? user = null)
    {
        var sockets = new RawWebSocket[count];
        using var limit = new SemaphoreSlim(64);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await limit.WaitAsync(timeout.Token);
            try
            {
                var socket = await RawWebSocket.ConnectAsync(server.SocketPort, user is null ? protocol.Path : protocol.Path + "?user=" + Uri.EscapeDataString(user), timeout.Token);
                await protocol.OpenAsync(socket, timeout.Token);
                if (join)
                {
                    await socket.SendTextAsync(protocol.JoinMessage, timeout.Token);
                    await socket.ReceiveAsync(frame => !protocol.IsReply(frame.Span, "j"), timeout.Token);
                }

                sockets[i] = socket;
            }
            finally
            {
                limit.Release();
            }
        }));
        return [.. sockets];
    }

    /// <summary>Memory of every TCP socket's buffers on this machine, both ends of loopback (<c>/proc/net/sockstat</c>, pages).</summary>
    private static long KernelTcpBytes()
    {
        foreach (var line in File.ReadLines("/proc/net/sockstat"))
        {
            if (line.StartsWith("TCP:", StringComparison.Ordinal))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var mem = Array.IndexOf(fields, "mem");
                return mem > 0 ? long.Parse(fields[mem + 1], System.Globalization.CultureInfo.InvariantCulture) * Environment.SystemPageSize : 0;
            }
        }

        return 0;
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
}

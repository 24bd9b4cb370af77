using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>Runs alone: its cases read the process's managed heap, which other tests' servers would disturb.</summary>
[CollectionDefinition(nameof(AdversarialTests), DisableParallelization = true)]
public sealed class AdversarialTestsRunAlone;

/// <summary>
/// A hostile client against a real server, on raw sockets. Every case checks the close code or error reply, that the
/// server's memory (the managed heap after a full collection) stays within a stated bound, that nothing is logged as an
/// error (no unhandled exception), and that a well-behaved client on the same server is served meanwhile.
/// </summary>
[Collection(nameof(AdversarialTests))]
public sealed class AdversarialTests
{
    private const long Mebibyte = 1024 * 1024;

    [Fact]
    public async Task A_64_bit_length_with_its_top_bit_set_closes_with_1002()
    {
        await AttackAsync(SocketCloseCodes.ProtocolError, RawSocket.LongHeader(0x1, fin: true, 0x8000_0000_0000_0010));
    }

    [Fact]
    public async Task Continuation_lengths_that_overflow_when_added_close_with_1009()
    {
        await AttackAsync(SocketCloseCodes.MessageTooBig, RawSocket.Frame(0x1, fin: false, new byte[100]), RawSocket.LongHeader(0x0, fin: true, long.MaxValue - 50));
    }

    [Fact]
    public async Task Continuation_frames_that_pass_the_receive_limit_close_with_1009()
    {
        // The limit is 64 KiB: 40 KiB + 40 KiB passes it on the second fragment, before it is buffered.
        await AttackAsync(SocketCloseCodes.MessageTooBig, RawSocket.Frame(0x1, fin: false, new byte[40 * 1024]), RawSocket.Frame(0x0, fin: true, new byte[40 * 1024]));
    }

    [Fact]
    public async Task A_fragmented_control_frame_closes_with_1002()
    {
        await AttackAsync(SocketCloseCodes.ProtocolError, RawSocket.Frame(0x9, fin: false, "ping"u8));
    }

    [Fact]
    public async Task An_unmasked_frame_closes_with_1002()
    {
        await AttackAsync(SocketCloseCodes.ProtocolError, RawSocket.Frame(0x1, fin: true, "2"u8, masked: false));
    }

    [Fact]
    public async Task Invalid_utf8_split_across_fragments_closes_with_1007()
    {
        await AttackAsync(SocketCloseCodes.InvalidPayload, RawSocket.Frame(0x1, fin: false, [0xE2, 0x82]), RawSocket.Frame(0x0, fin: true, [0x28]));
    }

    [Fact]
    public async Task A_binary_frame_closes_with_1003()
    {
        await AttackAsync(SocketCloseCodes.UnsupportedData, RawSocket.Frame(0x2, fin: true, [1, 2, 3]));
    }

    [Fact]
    public async Task Pings_without_reads_are_answered_within_the_outbound_bound_and_then_closed_with_4008()
    {
        // 20,000 pings of 125 bytes ask for 2.6 MB of pongs; the client never reads. The pongs count against the
        // socket's 64 KiB outbound bound like any frame: past it the queue is dropped and the socket closed.
        await using var server = await TestServer.StartAsync(options: o =>
        {
            o.OutboundQueueLimit = 64 * 1024;
            o.CloseTimeout = TimeSpan.FromSeconds(2);
        });
        var before = ManagedHeap();
        await using var attacker = await RawSocket.ConnectAsync(server);
        var ping = RawSocket.Frame(0x9, fin: true, new byte[125]);
        var pings = Enumerable.Repeat(ping, 1000).SelectMany(p => p).ToArray();
        using (var sending = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            try
            {
                for (var sent = 0; sent < 20; sent++)
                {
                    await attacker.Stream.WriteAsync(pings, sending.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                // The server stopped reading (it closed the socket) while the kernel's buffers were full.
            }
        }

        // Closed as a slow consumer (logged once, a warning), and, since it never reads the close frame, cut off
        // after the close time-out: the connection ends on the server.
        await Eventually.TrueAsync(() => server.Logs.Entries.Any(e => e.Message.EndsWith(" disconnected.", StringComparison.Ordinal)), TimeSpan.FromSeconds(20));
        Assert.Equal(LogLevel.Warning, Assert.Single(server.Logs.Entries, e => e.Message.Contains("is a slow consumer", StringComparison.Ordinal)).Level);
        var held = ManagedHeap() - before;
        Report("heap held by a socket that pings without reading (64 KiB bound)", held);
        await AssertGoodClientServedAsync(server);
        Assert.InRange(held, long.MinValue, 4 * Mebibyte);

        // What the attacker finally reads: pongs still in flight, then the close frame or the end of the stream.
        Assert.Contains(await attacker.ReadCloseCodeAsync(), new int?[] { SocketCloseCodes.SlowConsumer, null });
        AssertNothingFailed(server);
    }

    [Fact]
    public async Task By_default_a_socket_may_be_in_the_protocols_thousand_rooms_and_no_more()
    {
        // Protocol section 9: rooms joined per socket, default 1,000; past it rate_limited.
        await using var server = await TestServer.StartAsync(
            options: o => o.MessagesPerSecond = 0, // 1,001 joins at once: this case is about rooms, not the message budget
            sockets: s => s.AddRoomRule((_, _) => true));
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        for (var start = 0; start < 1_000; start += 250)
        {
            for (var i = start; i < start + 250; i++)
            {
                await client.SendJsonAsync(new { type = "room.join", data = new { room = $"r:{i}" } });
            }

            for (var i = start; i < start + 250; i++)
            {
                Assert.True((await client.ReceiveJsonAsync()).GetProperty("data").GetProperty("joined").GetBoolean());
            }
        }

        var refused = await client.RequestAsync("room.join", new { room = "r:1000" }, "over");
        Assert.Equal("rate_limited", refused.GetProperty("error").GetString());
        Assert.Equal(1, server.Provider.GetSubscriberCount("r:999"));
        Assert.Equal(0, server.Provider.GetSubscriberCount("r:1000"));
    }

    [Fact]
    public async Task Rooms_past_the_bound_are_refused_and_ten_thousand_joins_and_leaves_leave_nothing_behind()
    {
        await using var server = await TestServer.StartAsync(
            options: o =>
            {
                o.MaxRoomsPerSocket = 100;
                o.MessagesPerSecond = 0; // 20,000 messages in seconds: this case is about rooms, not the message budget
            },
            sockets: s => s.AddRoomRule((_, _) => true));
        await using var client = await server.ConnectAsync();
        var socketId = await client.ReadyAsync();
        var before = ManagedHeap();

        for (var i = 0; i < 100; i++)
        {
            await client.SendJsonAsync(new { type = "room.join", data = new { room = $"kept:{i}" }, correlationId = $"k{i}" });
        }

        for (var i = 0; i < 100; i++)
        {
            Assert.True((await client.ReceiveJsonAsync()).GetProperty("data").GetProperty("joined").GetBoolean());
        }

        var refused = await client.RequestAsync("room.join", new { room = "one.too.many" }, "over");
        Assert.Equal("rate_limited", refused.GetProperty("error").GetString());
        Assert.Contains("100 rooms", refused.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, server.Provider.GetSubscriberCount("kept:0"));
        Assert.Equal(0, server.Provider.GetSubscriberCount("one.too.many"));

        // 10,000 distinct rooms joined and left, pipelined in batches (each reply read before the next batch, so
        // that the client's own replies stay within its outbound bound).
        await client.RequestAsync("room.leave", new { room = "kept:99" }, "free");
        const int Loops = 10_000;
        const int Batch = 250;
        for (var start = 0; start < Loops; start += Batch)
        {
            for (var i = start; i < start + Batch; i++)
            {
                await client.SendJsonAsync(new { type = "room.join", data = new { room = $"loop:{i}" } });
                await client.SendJsonAsync(new { type = "room.leave", data = new { room = $"loop:{i}" } });
            }

            for (var i = start; i < start + Batch; i++)
            {
                Assert.True((await client.ReceiveJsonAsync()).GetProperty("data").GetProperty("joined").GetBoolean());
                Assert.False((await client.ReceiveJsonAsync()).GetProperty("data").GetProperty("joined").GetBoolean());
            }
        }

        var last = await client.RequestAsync("room.join", new { room = "kept:99" }, "back");
        Assert.Equal("back", last.GetProperty("correlationId").GetString());
        Assert.True(last.GetProperty("data").GetProperty("joined").GetBoolean());
        var grown = ManagedHeap() - before;
        Report("heap held by a socket in 100 rooms after 10,000 joins and leaves", grown);
        Assert.Equal(0, server.Provider.GetSubscriberCount($"loop:{Loops - 1}"));
        Assert.Equal(100, server.Services.GetRequiredService<SocketHub>().GetSubscriberCounts().Count);
        Assert.InRange(grown, long.MinValue, 2 * Mebibyte);
        Assert.True(server.Provider.IsConnected(socketId));
        await AssertGoodClientServedAsync(server);
        AssertNothingFailed(server);
    }

    [Fact]
    public async Task A_client_that_floods_requests_is_refused_past_its_budget_and_closed_with_1008_when_it_keeps_going()
    {
        await using var server = await TestServer.StartAsync(options: o =>
        {
            o.MessagesPerSecond = 50;
            o.MessageBurst = 50;
            o.RateLimitCloseFactor = 4;
        });
        var before = ManagedHeap();
        await using var attacker = await RawSocket.ConnectAsync(server);
        Assert.Contains("ori.ready", await attacker.ReadTextAsync(), StringComparison.Ordinal);

        // 1,000 requests in one write: the first 50 (the burst) are answered, then rate_limited, then 1008 once 200
        // (4 x the burst) were refused in a row.
        var flood = Enumerable.Range(0, 1000).SelectMany(i => RawSocket.Text($$"""{"type":"echo","data":{"text":"f{{i}}"},"correlationId":"f{{i}}"}""")).ToArray();
        await attacker.SendAsync(flood);
        var answered = 0;
        var limited = 0;
        int? code = null;
        while (code is null)
        {
            var (opcode, payload) = await attacker.ReadFrameAsync();
            if (opcode == 0x8)
            {
                code = (payload[0] << 8) | payload[1];
                break;
            }

            var text = Encoding.UTF8.GetString(payload);
            if (text.Contains("\"rate_limited\"", StringComparison.Ordinal))
            {
                limited++;
            }
            else
            {
                answered++;
            }
        }

        Assert.Equal(SocketCloseCodes.PolicyViolation, code);
        Report("flood: answered, refused before the close", answered * 1000 + limited);
        Assert.InRange(answered, 50, 60); // the burst, and what the clock replenished meanwhile
        Assert.Equal(199, limited);       // the 200th refusal in a row closes instead of answering
        await AssertGoodClientServedAsync(server);
        Assert.InRange(ManagedHeap() - before, long.MinValue, 2 * Mebibyte);
        AssertNothingFailed(server);
    }

    [Fact]
    public async Task Connections_whose_guard_never_answers_are_closed_with_1011_at_the_guard_time_limit()
    {
        await using var server = await TestServer.StartAsync(
            options: o => o.GuardTimeout = TimeSpan.FromMilliseconds(500),
            connectionGuards: [typeof(HangsForSomeGuard)]);
        // Two rounds of 20: the first may grow the transport's buffer pools; the second must not add what it held.
        await HangRoundAsync(server);
        await AssertGoodClientServedAsync(server);
        var before = ManagedHeap();
        await HangRoundAsync(server);
        var after = ManagedHeap() - before;
        Report("heap added by a second round of 20 connections whose guard never answered", after);
        Assert.InRange(after, long.MinValue, 1 * Mebibyte);
        Assert.Equal(40, server.Logs.Entries.Count(e => e.Message.Contains("timed out", StringComparison.Ordinal)));
        AssertNothingFailed(server);
    }

    [Fact]
    public async Task A_slow_loris_upgrade_is_cut_off_by_the_request_headers_time_limit()
    {
        await using var server = await TestServer.StartAsync(builder: b => b.WebHost.ConfigureKestrel(k => k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(1)));
        using var tcp = new System.Net.Sockets.TcpClient { NoDelay = true };
        await tcp.ConnectAsync(System.Net.IPAddress.Loopback, server.HttpUri.Port, TestContext.Current.CancellationToken);
        var stream = tcp.GetStream();
        var request = Encoding.ASCII.GetBytes($"GET /ws HTTP/1.1\r\nHost: {server.HttpUri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
        var started = System.Diagnostics.Stopwatch.StartNew();
        var cut = false;
        try
        {
            // A byte every 200 ms: the headers would take 15 s to arrive.
            foreach (var b in request)
            {
                await stream.WriteAsync(new[] { b }, TestContext.Current.CancellationToken);
                await Task.Delay(200, TestContext.Current.CancellationToken);
                if (tcp.Client.Poll(0, System.Net.Sockets.SelectMode.SelectRead) && tcp.Available == 0)
                {
                    cut = true;
                    break;
                }
            }
        }
        catch (IOException)
        {
            cut = true;
        }

        Assert.True(cut, "the server kept a connection whose headers never finished");
        Assert.InRange(started.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(8));
        await AssertGoodClientServedAsync(server);
        AssertNothingFailed(server);
    }

    /// <summary>One attacking socket sends <paramref name="frames"/> after ori.ready and must be closed with <paramref name="code"/>.</summary>
    private static async Task AttackAsync(int code, params byte[][] frames)
    {
        await using var server = await TestServer.StartAsync();
        var before = ManagedHeap();
        await using (var attacker = await RawSocket.ConnectAsync(server))
        {
            Assert.Contains("ori.ready", await attacker.ReadTextAsync(), StringComparison.Ordinal);
            foreach (var frame in frames)
            {
                await attacker.SendAsync(frame);
            }

            Assert.Equal(code, await attacker.ReadCloseCodeAsync());
        }

        await AssertGoodClientServedAsync(server);
        var after = ManagedHeap() - before;
        Report($"heap after a socket closed with {code}", after);
        Assert.InRange(after, long.MinValue, 2 * Mebibyte);
        AssertNothingFailed(server);

        // Logged once, as a warning: the protocol violation, with the code.
        var violations = server.Logs.Entries.Where(e => e.Message.Contains("broke the protocol", StringComparison.Ordinal)).ToList();
        Assert.Equal(LogLevel.Warning, Assert.Single(violations).Level);
        Assert.Contains(code.ToString(System.Globalization.CultureInfo.InvariantCulture), violations[0].Message, StringComparison.Ordinal);
    }

    private static async Task HangRoundAsync(TestServer server)
    {
        var stuck = new List<TestClient>();
        for (var i = 0; i < 20; i++)
        {
            stuck.Add(await TestClient.ConnectAsync(new Uri(server.WsUri + "?hang=1")));
        }

        foreach (var client in stuck)
        {
            Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.InternalServerError, await client.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
            await client.DisposeAsync();
        }
    }

    /// <summary>Never answers for a connection with <c>hang</c> in its query (and ignores its token); lets the others in.</summary>
    private sealed class HangsForSomeGuard : IConnectionGuard
    {
        public async ValueTask<bool> CanConnectAsync(ConnectionGuardContext context)
        {
            if (context.HttpContext.Request.Query.ContainsKey("hang"))
            {
                await Task.Delay(Timeout.Infinite, CancellationToken.None);
            }

            return true;
        }
    }

    /// <summary>A figure for the closing note, kept with the test's result (a TRX attachment).</summary>
    private static void Report(string what, long value) =>
        TestContext.Current.AddAttachment(what, value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static async Task AssertGoodClientServedAsync(TestServer server)
    {
        await using var good = await server.ConnectAsync();
        await good.ReadyAsync();
        var reply = await good.RequestAsync("echo", new { text = "still here" }, "good");
        Assert.Equal("still here", reply.GetProperty("data").GetProperty("text").GetString());
    }

    private static void AssertNothingFailed(TestServer server) =>
        Assert.DoesNotContain(server.Logs.Entries, e => e.Level >= LogLevel.Error);

    private static long ManagedHeap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}

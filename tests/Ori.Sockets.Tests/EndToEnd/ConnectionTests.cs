using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

public sealed partial class ConnectionTests
{
    [Fact]
    public async Task Ready_carries_a_uuid_v4_socket_id_and_a_timestamp()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        var ready = await client.ReceiveJsonAsync();
        Assert.Equal("ori.ready", ready.GetProperty("name").GetString());
        var id = ready.GetProperty("data").GetProperty("socketId").GetString()!;
        Assert.Matches(UuidV4(), id);
        Assert.True(ready.GetProperty("timestamp").GetInt64() > 1_700_000_000_000);
    }

    [Fact]
    public async Task Socket_ids_are_unique()
    {
        await using var server = await TestServer.StartAsync();
        var ids = new HashSet<string>();
        for (var i = 0; i < 20; i++)
        {
            var (client, id) = await TestClient.ConnectReadyAsync(server.WsUri);
            Assert.True(ids.Add(id));
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task Same_origin_and_no_origin_are_allowed_with_an_empty_allow_list()
    {
        await using var server = await TestServer.StartAsync();
        await using var same = await server.ConnectAsync(origin: $"http://{server.HttpUri.Authority}");
        await same.ReadyAsync();
        await using var none = await server.ConnectAsync();
        await none.ReadyAsync();
    }

    [Fact]
    public async Task Foreign_origin_gets_403_and_no_socket()
    {
        await using var server = await TestServer.StartAsync();
        var status = await FailedUpgradeStatusAsync(server.WsUri, "http://evil.example");
        Assert.Equal(HttpStatusCode.Forbidden, status);
    }

    [Fact]
    public async Task Allow_list_admits_its_origins_only()
    {
        await using var server = await TestServer.StartAsync(options: o => o.AllowedOrigins.Add("https://app.example.com"));
        await using var allowed = await server.ConnectAsync(origin: "https://app.example.com");
        await allowed.ReadyAsync();
        Assert.Equal(HttpStatusCode.Forbidden, await FailedUpgradeStatusAsync(server.WsUri, $"http://{server.HttpUri.Authority}"));
    }

    [Fact]
    public async Task Upgrade_hook_refusal_gets_401()
    {
        await using var server = await TestServer.StartAsync(options: o => o.OnUpgrade = ctx => new(ctx.HttpContext.Request.Query["key"] == "open"));
        Assert.Equal(HttpStatusCode.Unauthorized, await FailedUpgradeStatusAsync(server.WsUri, null));
        await using var client = await server.ConnectAsync("key=open");
        await client.ReadyAsync();
    }

    [Fact]
    public async Task Upgrade_hook_data_reaches_guards_and_handlers()
    {
        await using var server = await TestServer.StartAsync(
            options: o => o.OnUpgrade = ctx =>
            {
                ctx.Data = "attached:" + ctx.HttpContext.Request.Query["user"];
                return new(true);
            },
            connectionGuards: [typeof(UpgradeDataGuard)]);
        await using var client = await server.ConnectAsync("user=ann");
        await client.ReadyAsync();
        var reply = await client.RequestAsync("whoami");
        Assert.Equal("attached:ann", reply.GetProperty("data").GetProperty("upgradeData").GetString());
        Assert.Equal("state-from:attached:ann", reply.GetProperty("data").GetProperty("state").GetString());
    }

    [Fact]
    public async Task Plain_http_request_gets_426()
    {
        await using var server = await TestServer.StartAsync();
        using var http = new HttpClient();
        var response = await http.GetAsync(new Uri(server.HttpUri, "/ws"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
    }

    [Fact]
    public async Task Guard_refusal_closes_with_1008_and_never_sends_ready()
    {
        await using var server = await TestServer.StartAsync(connectionGuards: [typeof(TokenGuard)]);
        await using var client = await server.ConnectAsync("token=wrong");
        Assert.Null(await client.ReceiveAsync());
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, client.CloseStatus);
        Assert.Equal("Connection rejected by guard", client.CloseDescription);
    }

    [Fact]
    public async Task Guard_that_throws_closes_with_1011_without_the_exception_text()
    {
        await using var server = await TestServer.StartAsync(connectionGuards: [typeof(ThrowingGuard)]);
        await using var client = await server.ConnectAsync();
        Assert.Null(await client.ReceiveAsync());
        Assert.Equal(WebSocketCloseStatus.InternalServerError, client.CloseStatus);
        Assert.DoesNotContain("guard-secret", client.CloseDescription ?? string.Empty, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Frames_sent_while_guards_run_wait_and_are_handled_in_order_after_ready()
    {
        await using var server = await TestServer.StartAsync(connectionGuards: [typeof(SlowTokenGuard)]);
        await using var client = await server.ConnectAsync("token=good");
        await client.SendJsonAsync(new { type = "echo", data = new { text = "one" } });
        await client.SendJsonAsync(new { type = "echo", data = new { text = "two" } });
        await client.SendAsync("2");

        await client.ReadyAsync();
        Assert.Equal("one", (await client.ReceiveJsonAsync()).GetProperty("data").GetProperty("text").GetString());
        Assert.Equal("two", (await client.ReceiveJsonAsync()).GetProperty("data").GetProperty("text").GetString());
        Assert.Equal("3", await client.ReceiveAsync());
    }

    [Fact]
    public async Task Guard_state_is_seen_by_handlers()
    {
        await using var server = await TestServer.StartAsync(connectionGuards: [typeof(TokenGuard)]);
        await using var client = await server.ConnectAsync("token=good");
        await client.ReadyAsync();
        var reply = await client.RequestAsync("whoami");
        Assert.Equal("user:good", reply.GetProperty("data").GetProperty("state").GetString());
    }

    [Fact]
    public async Task Binary_frame_closes_with_1003()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        await client.SendAsync([1, 2, 3], WebSocketMessageType.Binary, true);
        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, await client.WaitForCloseAsync());
    }

    [Fact]
    public async Task Invalid_utf8_closes_with_1007()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        await client.SendAsync([(byte)'{', 0xC3, 0x28, (byte)'}'], WebSocketMessageType.Text, true);
        Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, await client.WaitForCloseAsync());
    }

    [Fact]
    public async Task Message_over_the_receive_limit_closes_with_1009()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        await client.SendAsync(Encoding.UTF8.GetBytes(Envelope(64 * 1024 + 1)), WebSocketMessageType.Text, true);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await client.WaitForCloseAsync());
    }

    [Fact]
    public async Task Message_exactly_at_the_receive_limit_is_handled()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        await client.SendAsync(Encoding.UTF8.GetBytes(Envelope(64 * 1024)), WebSocketMessageType.Text, true);
        var reply = await client.ReceiveJsonAsync();
        Assert.Equal("validation_failed", reply.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Receive_limit_is_measured_on_the_reassembled_message_not_per_frame()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        var bytes = Encoding.UTF8.GetBytes(Envelope(64 * 1024 + 10));
        var half = bytes.Length / 2;
        await client.SendAsync(bytes[..half], WebSocketMessageType.Text, false);
        await client.SendAsync(bytes[half..], WebSocketMessageType.Text, true);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await client.WaitForCloseAsync());
    }

    [Fact]
    public async Task Fragmented_message_is_reassembled()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        var bytes = Encoding.UTF8.GetBytes("""{"type":"echo","data":{"text":"pieces"},"correlationId":"p"}""");
        await client.SendAsync(bytes[..7], WebSocketMessageType.Text, false);
        await client.SendAsync(bytes[7..20], WebSocketMessageType.Text, false);
        await client.SendAsync(bytes[20..], WebSocketMessageType.Text, true);
        var reply = await client.ReceiveJsonAsync();
        Assert.Equal("pieces", reply.GetProperty("data").GetProperty("text").GetString());
    }

    [Fact]
    public async Task Receive_limit_comes_from_configuration()
    {
        await using var server = await TestServer.StartAsync(builder: b => b.Configuration["Ori:Sockets:ReceiveLimit"] = "1024");
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        await client.SendAsync(Encoding.UTF8.GetBytes(Envelope(1025)), WebSocketMessageType.Text, true);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await client.WaitForCloseAsync());
    }

    [Fact]
    public async Task Client_close_is_answered_and_the_socket_leaves_the_hub()
    {
        await using var server = await TestServer.StartAsync();
        var client = await server.ConnectAsync();
        var id = await client.ReadyAsync();
        Assert.True(server.Provider.IsConnected(id));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await client.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
        await Eventually.TrueAsync(() => !server.Provider.IsConnected(id) && server.Provider.ConnectionCount == 0);
        client.Socket.Dispose();
    }

    [Fact]
    public async Task Host_stop_drains_ori_draining_first_then_1001_closes_spread_over_the_window_and_no_upgrade_meanwhile()
    {
        var server = await TestServer.StartAsync(options: o =>
        {
            o.DrainWindow = TimeSpan.FromSeconds(1);
            o.DrainReconnectDelay = TimeSpan.FromMilliseconds(750);
        });
        var clients = new List<TestClient>();
        for (var i = 0; i < 5; i++)
        {
            var (client, _) = await TestClient.ConnectReadyAsync(server.WsUri);
            clients.Add(client);
        }

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var stopping = server.DisposeAsync().AsTask();

        // Every socket is told first, with the delay its client should wait before it reconnects.
        foreach (var client in clients)
        {
            var push = await client.ReceiveJsonAsync();
            Assert.Equal("ori.draining", push.GetProperty("name").GetString());
            Assert.Equal(750, push.GetProperty("data").GetProperty("reconnectAfterMs").GetInt32());
        }

        // While it drains, the server takes no new socket: Kestrel has stopped listening (a connection error, 0), or an
        // upgrade that got in is refused with 503.
        Assert.Contains(await FailedUpgradeStatusAsync(server.WsUri, null), new[] { (HttpStatusCode)0, HttpStatusCode.ServiceUnavailable });

        var closedAt = await Task.WhenAll(clients.Select(async c =>
        {
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await c.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
            return stopwatch.Elapsed;
        }));
        await stopping;
        stopwatch.Stop();

        // One after another over the window (5 sockets in 1 s: about 200 ms apart), not all at once...
        Assert.True(closedAt.Max() - closedAt.Min() >= TimeSpan.FromMilliseconds(500), $"closes spanned {closedAt.Max() - closedAt.Min()}");

        // ...and within the host's shutdown time limit (10 s in TestServer), not after it.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"Stopping took {stopwatch.Elapsed}.");
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task With_no_drain_window_every_socket_is_closed_at_once_after_the_push()
    {
        var server = await TestServer.StartAsync(options: o => o.DrainWindow = TimeSpan.Zero);
        var clients = new List<TestClient>();
        for (var i = 0; i < 5; i++)
        {
            var (client, _) = await TestClient.ConnectReadyAsync(server.WsUri);
            clients.Add(client);
        }

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var closes = clients.Select(async c =>
        {
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await c.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
            return stopwatch.Elapsed;
        }).ToArray();
        await server.DisposeAsync();
        var closedAt = await Task.WhenAll(closes);
        Assert.True(closedAt.Max() - closedAt.Min() < TimeSpan.FromMilliseconds(300), $"closes spanned {closedAt.Max() - closedAt.Min()}");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"Stopping took {stopwatch.Elapsed}.");
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }

    private static string Envelope(int totalBytes)
    {
        const string head = """{"type":"echo","data":{"text":" """;
        const string tail = "\"}}";
        var prefix = head.TrimEnd();
        return prefix + new string('x', totalBytes - prefix.Length - tail.Length) + tail;
    }

    private static async Task<HttpStatusCode> FailedUpgradeStatusAsync(Uri uri, string? origin)
    {
        using var socket = TestClient.CreateSocket(origin);
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(uri, timeout.Token));
        return socket.HttpStatusCode;
    }

    [GeneratedRegex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")]
    private static partial Regex UuidV4();

    private sealed class TokenGuard : ConnectionGuard<string>
    {
        protected override ValueTask<string?> AuthenticateAsync(ConnectionGuardContext context)
        {
            var token = context.HttpContext.Request.Query["token"].ToString();
            return new(token == "good" ? "user:good" : null);
        }
    }

    private sealed class SlowTokenGuard : ConnectionGuard<string>
    {
        protected override async ValueTask<string?> AuthenticateAsync(ConnectionGuardContext context)
        {
            await Task.Delay(300, context.CancellationToken);
            return "slow-user";
        }
    }

    private sealed class UpgradeDataGuard : IConnectionGuard
    {
        public ValueTask<bool> CanConnectAsync(ConnectionGuardContext context)
        {
            context.State = "state-from:" + context.UpgradeData;
            return new(true);
        }
    }

    private sealed class ThrowingGuard : IConnectionGuard
    {
        public ValueTask<bool> CanConnectAsync(ConnectionGuardContext context) =>
            throw new InvalidOperationException("guard-secret");
    }
}

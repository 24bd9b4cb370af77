using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Ori.Sockets.Tests.Generated;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>
/// Listeners served from the transport up (<c>ListenOptions.UseOriSockets</c>): the same protocol, hook, guards,
/// authentication and authorization as a mapped endpoint, strict HTTP/1.1 refusals with problem bodies, and no HTTP
/// objects kept once a connection is ready.
/// </summary>
public sealed class ListenerTests : IAsyncLifetime
{
    private readonly ConcurrentQueue<WeakReference> _upgrades = new();
    private WebApplication _app = null!;
    private ListenOptions _plain = null!;
    private ListenOptions _shop = null!;
    private ListenOptions _members = null!;
    private ListenOptions _http = null!;
    private ListenOptions _kestrelTransport = null!;
    private ListenOptions _tls = null!;
    private readonly X509Certificate2 _certificate = SelfSignedCertificate();
    private readonly ConcurrentDictionary<int, string> _schemes = new();
    private readonly ConcurrentDictionary<int, string> _connectionIds = new();

    private int PlainPort => _plain.IPEndPoint!.Port;

    public async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0, l => _http = l);
            k.Listen(IPAddress.Loopback, 0, l => _plain = l.UseOriSockets(o => o.RequestHeadersTimeout = TimeSpan.FromSeconds(1)));
            k.Listen(IPAddress.Loopback, 0, l => _shop = l.UseOriSockets<ShopSocket>());
            k.Listen(IPAddress.Loopback, 0, l => _members = l.UseOriSockets<MembersSocket>(o => o.Path = "/members"));
            k.Listen(IPAddress.Loopback, 0, l => _kestrelTransport = l.UseOriSockets(o => o.OwnTransport = false));
            k.Listen(IPAddress.Loopback, 0, l => _tls = l.UseHttps(_certificate).UseOriSockets());
        });
        builder.Services.AddOriSockets(o =>
        {
            o.DrainWindow = TimeSpan.FromMilliseconds(200);
            o.OnUpgrade = ctx =>
            {
                _upgrades.Enqueue(new WeakReference(ctx.HttpContext));
                _connectionIds[ctx.HttpContext.Connection.LocalPort] = ctx.HttpContext.Connection.Id;
                _schemes[ctx.HttpContext.Connection.LocalPort] = ctx.HttpContext.Request.Scheme;
                ctx.Data = ctx.HttpContext.Request.Query["data"].ToString();
                return new(ctx.HttpContext.Request.Query["refuse"].Count == 0);
            };
        }).AddDispatcher<TestDispatcher>().AddSocketRouters();
        builder.Services.AddSingleton<TestHandlers>();
        builder.Services.AddSingleton<OrderBook>();
        builder.Services.AddAuthentication("Query").AddScheme<AuthenticationSchemeOptions, AuthorizationTests.QueryAuthentication>("Query", null);
        builder.Services.AddAuthorization(o => o.AddPolicy("Gold", p => p.RequireClaim("tier", "gold")));
        _app = builder.Build();
        _app.UseAuthentication();
        _app.MapOriSockets("/ws");
        await _app.StartAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        _certificate.Dispose();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_listener_serves_the_protocol_replies_pushes_and_the_hooks_data(bool ownTransport)
    {
        var port = ownTransport ? PlainPort : _kestrelTransport.IPEndPoint!.Port;
        await using var client = await ConnectAsync(port, "/ws?data=attached");

        // Which transport served it: the own transport's connection ids are its own ("ori-" and a counter), Kestrel's
        // are not; the ordinary HTTP endpoint stays on Kestrel's transport.
        await using var mapped = await ConnectAsync(_http.IPEndPoint!.Port, "/ws");
        Assert.Equal(ownTransport, _connectionIds[port].StartsWith("ori-", StringComparison.Ordinal));
        Assert.False(_connectionIds[_http.IPEndPoint!.Port].StartsWith("ori-", StringComparison.Ordinal));

        var echo = await client.RequestAsync("echo", new { text = "hi" });
        Assert.Equal("hi", echo.GetProperty("data").GetProperty("text").GetString());
        Assert.Equal("attached", (await client.RequestAsync("whoami", null, "w")).GetProperty("data").GetProperty("upgradeData").GetString());

        await client.RequestAsync("subscribe", new { text = "news" }, "s");
        await _app.Services.GetRequiredService<ISocketEmitter>().PublishAsync("news", """{"type":"flash","data":{"headline":"up"}}""", cancellationToken: TestContext.Current.CancellationToken);
        var push = await client.ReceiveJsonAsync();
        Assert.Equal("flash", push.GetProperty("type").GetString());
        Assert.Equal("up", push.GetProperty("data").GetProperty("headline").GetString());
    }

    [Fact]
    public async Task Guards_authentication_and_per_route_authorization_work_on_a_listener()
    {
        // The shopper guard reads the query from the request; the default scheme authenticated the user.
        await using var bob = await ConnectAsync(_shop.IPEndPoint!.Port, "/ws?shopper=bob&user=bob&roles=auditor&tier=gold");
        Assert.Equal("bob", (await bob.RequestAsync("account.me", new { }, "m")).GetProperty("data").GetString());
        Assert.Equal("audited", (await bob.RequestAsync("account.audit", new { }, "a")).GetProperty("data").GetString());
        Assert.Equal("gold", (await bob.RequestAsync("account.gold", new { }, "g")).GetProperty("data").GetString());

        await using var anonymous = await ConnectAsync(_shop.IPEndPoint!.Port, "/ws?shopper=ann");
        Assert.Equal("forbidden", (await anonymous.RequestAsync("account.me", new { }, "m")).GetProperty("error").GetString());
        Assert.Equal("open", (await anonymous.RequestAsync("account.open", new { }, "o")).GetProperty("data").GetString());

        // No shopper: the guard refuses (1008), as on a mapped endpoint.
        await using var nobody = await TestClient.ConnectAsync(new Uri($"ws://127.0.0.1:{_shop.IPEndPoint!.Port}/ws"));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await nobody.WaitForCloseAsync());
    }

    [Fact]
    public async Task An_endpoint_class_with_authorize_refuses_anonymous_upgrades_with_401()
    {
        using var socket = TestClient.CreateSocket(null);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new Uri($"ws://127.0.0.1:{_members.IPEndPoint!.Port}/members"), TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);

        await using var member = await ConnectAsync(_members.IPEndPoint!.Port, "/members?user=cy");
        Assert.Equal("hello cy", (await member.RequestAsync("members.hello", new { }, "h")).GetProperty("data").GetString());
    }

    [Fact]
    public async Task Once_ready_a_listeners_connection_keeps_no_http_objects_unlike_a_mapped_endpoints()
    {
        _upgrades.Clear();
        await using var listened = await ConnectAsync(PlainPort, "/ws");
        Assert.True(_upgrades.TryDequeue(out var listenedRequest));
        await using var mapped = await ConnectAsync(_http.IPEndPoint!.Port, "/ws");
        Assert.True(_upgrades.TryDequeue(out var mappedRequest));
        await listened.RequestAsync("echo", new { text = "still here" });
        await mapped.RequestAsync("echo", new { text = "still here" });

        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.False(listenedRequest.IsAlive, "the listener's connection still holds its upgrade request");
        Assert.True(mappedRequest.IsAlive, "a mapped endpoint's request lives as long as its socket");
        Assert.Equal("still here", (await listened.RequestAsync("echo", new { text = "still here" })).GetProperty("data").GetProperty("text").GetString());
    }

    [Theory]
    [InlineData("hello\r\n\r\n", 400, "request line")]
    [InlineData("GET /other HTTP/1.1\r\nHost: x\r\n\r\n", 404, "/ws")]
    [InlineData("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 426, "WebSocket connections only")]
    [InlineData("GET /ws HTTP/1.0\r\nHost: x\r\n\r\n", 505, "HTTP/1.1")]
    [InlineData("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, "Host")]
    [InlineData("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, "Sec-WebSocket-Key")]
    [InlineData("GET /ws HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n", 400, "malformed")]
    [InlineData("GET /ws HTTP/1.1\r\nHost: x\r\nX-Name: caf\u00e9\r\n\r\n", 400, "ASCII")]
    [InlineData("GET /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 400, "no body")]
    [InlineData("GET /ws?refuse=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 401, "")]
    [InlineData("GET /ws HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 403, "")]
    public async Task A_bad_request_gets_its_status_and_the_connection_closes_and_the_listener_goes_on(string request, int status, string detail)
    {
        var response = await ExchangeAsync(PlainPort, Encoding.Latin1.GetBytes(request));
        Assert.StartsWith($"HTTP/1.1 {status} ", response, StringComparison.Ordinal);
        Assert.Contains("Connection: close", response, StringComparison.Ordinal);
        Assert.Contains(detail, response, StringComparison.Ordinal);

        await using var client = await ConnectAsync(PlainPort, "/ws");
        Assert.Equal("ok", (await client.RequestAsync("echo", new { text = "ok" })).GetProperty("data").GetProperty("text").GetString());
    }

    [Fact]
    public async Task A_head_over_the_size_limit_is_answered_431_before_it_ends()
    {
        var big = "GET /ws HTTP/1.1\r\nHost: x\r\nX-Big: " + new string('a', 40 * 1024);
        var response = await ExchangeAsync(PlainPort, Encoding.ASCII.GetBytes(big));
        Assert.StartsWith("HTTP/1.1 431 ", response, StringComparison.Ordinal);
        var problem = JsonDocument.Parse(response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]).RootElement;
        Assert.Equal(431, problem.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task The_101_leaves_with_ori_ready_once_the_guards_have_run_not_before()
    {
        // The guard holds 800 ms. Before, the 101 was sent at once and ori.ready after the guard; now both leave in one
        // write when the guard is done: for 500 ms nothing arrives, then the 101 and ori.ready.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _shop.IPEndPoint!.Port, TestContext.Current.CancellationToken);
        var stream = tcp.GetStream();
        var started = System.Diagnostics.Stopwatch.StartNew();
        await stream.WriteAsync("GET /ws?shopper=ann&holdMs=800 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"u8.ToArray(), TestContext.Current.CancellationToken);
        Assert.False(tcp.Client.Poll(TimeSpan.FromMilliseconds(500), SelectMode.SelectRead), "something arrived while the guard ran");
        var buffer = new byte[4096];

        var received = new StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!received.ToString().Contains("ori.ready", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            Assert.NotEqual(0, read);
            received.Append(Encoding.Latin1.GetString(buffer, 0, read));
        }

        Assert.StartsWith("HTTP/1.1 101 ", received.ToString(), StringComparison.Ordinal);
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(750), $"ori.ready after {started.Elapsed.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task A_head_of_more_than_100_header_lines_is_answered_431_and_one_of_100_is_read()
    {
        // 100 header lines (Host and 99 more) are read: the request is a plain GET, answered 426; one more line is 431.
        static byte[] Head(int lines) => Encoding.ASCII.GetBytes("GET /ws HTTP/1.1\r\nHost: x\r\n" + string.Concat(Enumerable.Range(1, lines - 1).Select(i => $"X-H{i}: \t v \r\n")) + "\r\n");
        Assert.StartsWith("HTTP/1.1 426 ", await ExchangeAsync(PlainPort, Head(100)), StringComparison.Ordinal);
        var response = await ExchangeAsync(PlainPort, Head(101));
        Assert.StartsWith("HTTP/1.1 431 ", response, StringComparison.Ordinal);
        Assert.Contains("more than 100 header lines", response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_head_that_does_not_arrive_in_time_is_answered_408_after_the_limit_not_before()
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var response = await ExchangeAsync(PlainPort, "GET /ws HTTP/1.1\r\nHost: x\r\n"u8.ToArray());
        Assert.StartsWith("HTTP/1.1 408 ", response, StringComparison.Ordinal);
        Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(8));
    }

    [Fact]
    public async Task A_plain_listener_serves_its_connections_itself_and_kestrel_still_dispatches_those_behind_tls()
    {
        // Kestrel counts the connections it dispatches (kestrel.active_connections, tagged with the port). A listener
        // whose pipeline is Ori.Sockets alone accepts and serves its sockets on the accepting thread: Kestrel never sees
        // them. Behind UseHttps the TLS middleware must run, so Kestrel dispatches as before.
        var opened = new ConcurrentDictionary<int, int>();
        using var meters = new System.Diagnostics.Metrics.MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Microsoft.AspNetCore.Server.Kestrel" && instrument.Name == "kestrel.active_connections")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((_, change, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "server.port" && change > 0)
                {
                    opened.AddOrUpdate(Convert.ToInt32(tag.Value, System.Globalization.CultureInfo.InvariantCulture), 1, (_, n) => n + 1);
                }
            }
        });
        meters.Start();

        await using (var plain = await ConnectAsync(PlainPort, "/ws"))
        {
            Assert.Equal("whoami", (await plain.RequestAsync("whoami", null, "w")).GetProperty("type").GetString());
        }

        var tlsPort = _tls.IPEndPoint!.Port;
        var tls = await ConnectTlsAsync("/ws");
        await tls.DisposeAsync();

        Assert.Equal(1, opened.GetValueOrDefault(tlsPort));
        Assert.Equal(0, opened.GetValueOrDefault(PlainPort));
    }

    [Fact]
    public async Task Stopping_the_host_closes_a_directly_served_connection_that_is_still_sending_its_head()
    {
        // The shop listener waits 10 s for a head, as long as the host's shutdown timeout. Its own accept loop aborts a
        // connection still in its handshake when Kestrel unbinds it (a stopping server would refuse it 503); the
        // WebSockets are drained instead (Stopping_the_host_drains_a_listeners_sockets_with_ori_draining_then_1001).
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _shop.IPEndPoint!.Port, TestContext.Current.CancellationToken);
        var stream = tcp.GetStream();
        await stream.WriteAsync("GET /ws HTTP/1.1\r\nHost: x\r\n"u8.ToArray(), TestContext.Current.CancellationToken);
        var started = System.Diagnostics.Stopwatch.StartNew();
        await _app.StopAsync(TestContext.Current.CancellationToken);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(8));
        var buffer = new byte[1024];
        int read;
        try
        {
            read = await stream.ReadAsync(buffer, timeout.Token);
        }
        catch (IOException)
        {
            read = 0; // reset
        }

        Assert.Equal(0, read);
        Assert.InRange(started.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(6));
    }

    [Fact]
    public async Task A_listener_behind_tls_serves_wss_on_its_own_transport()
    {
        // UseHttps wraps the own transport's connection as it wraps Kestrel's: the handshake sees https, the protocol
        // runs through TLS, a 60 KB message included.
        var port = _tls.IPEndPoint!.Port;
        await using var client = await ConnectTlsAsync("/ws?data=sealed");
        Assert.Equal("sealed", (await client.RequestAsync("whoami", null, "w")).GetProperty("data").GetProperty("upgradeData").GetString());
        Assert.Equal("https", _schemes[port]);
        Assert.StartsWith("ori-", _connectionIds[port], StringComparison.Ordinal);

        var pad = new string('x', 60_000);
        var reply = await client.RequestAsync("echo", new { pad, text = "through tls" });
        Assert.Equal("through tls", reply.GetProperty("data").GetProperty("text").GetString());
    }

    private static X509Certificate2 SelfSignedCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }

    [Fact]
    public async Task Messages_larger_than_a_read_buffer_and_split_or_pipelined_writes_arrive_whole_and_in_order()
    {
        // The own transport reads into a 4 KiB array that it compacts and doubles: a 60 KB message (an ignored pad, then
        // the text) written in 1,000-byte pieces with pauses, then 150 small requests in one write (the message rate
        // limit allows 200 at once), must all come back whole and in order.
        await using var raw = await RawSocket.ConnectAsync(PlainPort, "/ws");
        Assert.Contains("ori.ready", await raw.ReadTextAsync(), StringComparison.Ordinal);
        var text = string.Concat(Enumerable.Range(0, 6_000).Select(i => (i % 10).ToString(System.Globalization.CultureInfo.InvariantCulture) + "abcdefghi"));
        var large = RawSocket.Text($$$"""{"type":"echo","correlationId":"big","data":{"pad":"{{{text}}}","text":"after the pad"}}""");
        for (var at = 0; at < large.Length; at += 1_000)
        {
            await raw.SendAsync(large[at..Math.Min(large.Length, at + 1_000)]);
            await Task.Delay(at % 10_000 == 0 ? 20 : 0, TestContext.Current.CancellationToken);
        }

        var reply = await raw.ReadTextAsync();
        Assert.Contains("\"big\"", reply, StringComparison.Ordinal);
        Assert.Contains("after the pad", reply, StringComparison.Ordinal);

        var pipelined = Enumerable.Range(0, 150)
            .SelectMany(i => RawSocket.Text($$$"""{"type":"echo","correlationId":"p{{{i}}}","data":{"text":"n{{{i}}}"}}"""))
            .ToArray();
        await raw.SendAsync(pipelined);
        for (var i = 0; i < 150; i++)
        {
            Assert.Contains($"\"n{i}\"", await raw.ReadTextAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Frames_written_right_behind_the_request_are_read_after_the_101()
    {
        var echo = RawSocket.Text("""{"type":"echo","correlationId":"e","data":{"text":"early"}}""");
        await using var raw = await RawSocket.ConnectAsync(PlainPort, "/ws", echo);
        Assert.Contains("ori.ready", await raw.ReadTextAsync(), StringComparison.Ordinal);
        Assert.Contains("early", await raw.ReadTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stopping_the_host_drains_a_listeners_sockets_with_ori_draining_then_1001()
    {
        var client = await ConnectAsync(PlainPort, "/ws");
        var stopping = _app.StopAsync(TestContext.Current.CancellationToken);
        var push = await client.ReceiveJsonAsync();
        Assert.Equal("ori.draining", push.GetProperty("name").GetString());
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await client.WaitForCloseAsync());
        await stopping;
        await client.DisposeAsync();
    }

    [Fact]
    public async Task A_listeners_slow_consumer_is_closed_with_4008_while_a_fast_one_gets_everything()
    {
        await using var slow = await ConnectAsync(PlainPort, "/ws");
        await using var fast = await ConnectAsync(PlainPort, "/ws");
        await slow.RequestAsync("subscribe", new { text = "firehose" }, "s");
        await fast.RequestAsync("subscribe", new { text = "firehose" }, "s");
        slow.StopReading();
        var received = 0;
        var reader = Task.Run(async () =>
        {
            while (await fast.ReceiveAsync(TimeSpan.FromSeconds(20)) is { } text && text != "end")
            {
                Interlocked.Increment(ref received);
            }
        }, TestContext.Current.CancellationToken);

        // 24 MiB for each subscriber (16 KiB frames): past the kernel's socket buffers, Kestrel's pipe and the 1 MiB queue.
        var emitter = _app.Services.GetRequiredService<ISocketEmitter>();
        var payload = SocketFrame.Text(new string('p', 16 * 1024));
        const int Messages = 1500;
        for (var i = 0; i < Messages; i++)
        {
            await emitter.PublishAsync("firehose", payload, cancellationToken: TestContext.Current.CancellationToken);
            var sent = i + 1;
            await Eventually.TrueAsync(() => Volatile.Read(ref received) >= sent - 4, TimeSpan.FromSeconds(20));
        }

        Assert.Equal((WebSocketCloseStatus)SocketCloseCodes.SlowConsumer, await slow.WaitForCloseAsync(TimeSpan.FromSeconds(20)));
        await emitter.PublishAsync("firehose", "end", cancellationToken: TestContext.Current.CancellationToken);
        await reader.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.Equal(Messages, received);
    }

    [Fact]
    public async Task Mangled_requests_get_a_4xx_or_a_101_or_a_close_never_a_500_and_the_listener_goes_on()
    {
        // 400 mutations of a valid upgrade (a seeded generator, so a failure repeats): bytes inserted, deleted, replaced
        // or duplicated, lines cut, doubled or stretched. The client half-closes after writing, so an unfinished head
        // ends the connection instead of waiting for the time limit. Seen with this seed: 400 x190, 426 x32, 431 x19,
        // 505 x8, 404 x3, 101 x19, closed x129.
        var valid = "GET /ws?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"u8.ToArray();
        var random = new Random(20261202);
        var statuses = new ConcurrentDictionary<string, int>();
        for (var batch = 0; batch < 20; batch++)
        {
            var requests = Enumerable.Range(0, 20).Select(_ => Mangle(valid, random)).ToArray();
            await Task.WhenAll(requests.Select(async request =>
            {
                var response = await ExchangeAsync(PlainPort, request, halfClose: true);
                var status = response.Length == 0 ? "closed" : response.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) ? response.Substring(9, 3) : "garbage";
                Assert.True(status is "closed" or "101" || (status[0] == '4' && status.All(char.IsAsciiDigit)) || status is "505",
                    $"{status} for {Convert.ToBase64String(request)}");
                statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
            }));
        }

        Assert.True(statuses.Keys.Count(k => k.StartsWith('4')) >= 3, string.Join(", ", statuses.Select(s => $"{s.Key}: {s.Value}")));
        await using var client = await ConnectAsync(PlainPort, "/ws");
        Assert.Equal("ok", (await client.RequestAsync("echo", new { text = "ok" })).GetProperty("data").GetProperty("text").GetString());
    }

    private static byte[] Mangle(byte[] valid, Random random)
    {
        var bytes = valid.ToList();
        for (var edits = random.Next(1, 4); edits > 0; edits--)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0:
                    bytes.Insert(at, (byte)random.Next(256));
                    break;
                case 1:
                    bytes.RemoveAt(at);
                    break;
                case 2:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 3:
                    bytes.InsertRange(at, bytes.GetRange(at, Math.Min(20, bytes.Count - at)));
                    break;
                case 4:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                default:
                    bytes.InsertRange(at, Enumerable.Repeat((byte)'a', random.Next(1, 40_000)));
                    break;
            }

            if (bytes.Count == 0)
            {
                bytes.Add((byte)'G');
            }
        }

        return [.. bytes];
    }

    [Fact]
    public async Task A_listener_of_a_server_with_a_connection_limit_stays_on_kestrels_loop_which_refuses_past_the_limit()
    {
        // Kestrel enforces MaxConcurrentConnections in its own dispatch: a connection past the limit is closed unread.
        // The transport's own accept loop would bypass it, so the listener of a server with a limit is not served directly.
        ListenOptions listener = null!;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.Limits.MaxConcurrentConnections = 2;
            k.Listen(IPAddress.Loopback, 0, l => listener = l.UseOriSockets());
        });
        builder.Services.AddOriSockets().AddDispatcher<TestDispatcher>().AddSocketRouters();
        builder.Services.AddSingleton<TestHandlers>();
        builder.Services.AddSingleton<OrderBook>();
        await using var app = builder.Build();
        await app.StartAsync(TestContext.Current.CancellationToken);
        var port = listener.IPEndPoint!.Port;
        var upgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"u8.ToArray();

        var first = await ConnectAsync(port, "/ws");
        await using (var second = await ConnectAsync(port, "/ws"))
        {
            await using (first)
            {
                // Served directly, the third would get its 101 and stay open until the exchange gives up (10 s).
                Assert.Equal(string.Empty, await ExchangeAsync(port, upgrade));
            }

            // Once one of the two has gone, Kestrel lets the next one in.
            await Eventually.TrueAsync(async () =>
            {
                try
                {
                    await using var third = await ConnectAsync(port, "/ws");
                    return true;
                }
                catch (Exception ex) when (ex is WebSocketException or IOException or InvalidOperationException)
                {
                    return false;
                }
            });
        }

        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>Connects to the TLS listener, trusting its self-signed certificate only, and waits for <c>ori.ready</c>.</summary>
    private async Task<TestClient> ConnectTlsAsync(string pathAndQuery)
    {
        var client = await TestClient.ConnectAsync(
            new Uri($"wss://127.0.0.1:{_tls.IPEndPoint!.Port}{pathAndQuery}"),
            configure: o => o.RemoteCertificateValidationCallback = (_, presented, _, _) =>
                presented is not null && presented.GetCertHashString() == _certificate.GetCertHashString());
        await client.ReadyAsync();
        return client;
    }

    private static async Task<TestClient> ConnectAsync(int port, string pathAndQuery)
    {
        var client = await TestClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}{pathAndQuery}"));
        await client.ReadyAsync();
        return client;
    }

    /// <summary>Writes raw bytes and reads until the server closes the connection.</summary>
    private static async Task<string> ExchangeAsync(int port, byte[] request, bool halfClose = false)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port, TestContext.Current.CancellationToken);
        var stream = tcp.GetStream();
        try
        {
            await stream.WriteAsync(request, TestContext.Current.CancellationToken);
        }
        catch (IOException)
        {
            // Refused before all of it was written (a head past the size limit): the answer is still there to read.
        }

        if (halfClose)
        {
            tcp.Client.Shutdown(SocketShutdown.Send);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var response = new MemoryStream();
        try
        {
            await stream.CopyToAsync(response, timeout.Token);
        }
        catch (IOException)
        {
            // Reset after the answer: a refused request's unread bytes make the close a reset.
        }

        return Encoding.Latin1.GetString(response.ToArray());
    }
}

using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>
/// Every time limit and timestamp of the server goes through the application's TimeProvider: a fake clock
/// drives them here, so that nothing sleeps, and a limit that fired on the real clock would fail the test.
/// </summary>
public sealed class ClockTests
{
    private static readonly DateTimeOffset s_start = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(s_start);

    [Fact]
    public async Task Ready_heartbeat_and_pushes_are_stamped_by_the_application_clock()
    {
        // The hour the clock moves must not pass the idle timeout (that sweeper runs on this clock too).
        await using var server = await StartAsync(o => o.IdleTimeout = TimeSpan.FromHours(2));
        await using var client = await server.ConnectAsync();
        var ready = await client.ReceiveJsonAsync();
        Assert.Equal(s_start.ToUnixTimeMilliseconds(), ready.GetProperty("timestamp").GetInt64());

        _time.Advance(TimeSpan.FromHours(1));
        var heartbeat = await client.RequestAsync("heartbeat", new { }, "h");
        Assert.Equal(s_start.AddHours(1).ToUnixTimeMilliseconds(), heartbeat.GetProperty("data").GetProperty("timestamp").GetInt64());

        var socketId = ready.GetProperty("data").GetProperty("socketId").GetString()!;
        await server.Emitter.EmitToSocketAsync(socketId, new EchoRequest("tick"), TestContext.Current.CancellationToken);
        var push = await client.ReceiveJsonAsync();
        Assert.Equal(s_start.AddHours(1).ToUnixTimeMilliseconds(), push.GetProperty("timestamp").GetInt64());
    }

    [Fact]
    public async Task A_silent_socket_is_closed_when_the_clock_passes_its_idle_timeout_and_a_chatty_one_is_not()
    {
        await using var server = await StartAsync(o => o.IdleTimeout = TimeSpan.FromSeconds(60));
        await using var silent = await server.ConnectAsync();
        await using var chatty = await server.ConnectAsync();
        await silent.ReadyAsync();
        await chatty.ReadyAsync();

        _time.Advance(TimeSpan.FromSeconds(40));
        await chatty.SendAsync("2");
        Assert.Equal("3", await chatty.ReceiveAsync());

        // Silent for 70 s, chatty for 30 s: the sweeps run inside Advance.
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal((WebSocketCloseStatus)SocketCloseCodes.IdleTimeout, await silent.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
        await chatty.SendAsync("2");
        Assert.Equal("3", await chatty.ReceiveAsync());
        Assert.Equal(WebSocketState.Open, chatty.Socket.State);
    }

    [Fact]
    public async Task An_upgrade_hook_is_cut_off_when_the_clock_passes_its_time_limit()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await StartAsync(o =>
        {
            o.UpgradeTimeout = TimeSpan.FromSeconds(5);
            o.OnUpgrade = async context =>
            {
                entered.TrySetResult();
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
                return true;
            };
        });
        using var socket = TestClient.CreateSocket(null);
        var upgrade = socket.ConnectAsync(server.WsUri, TestContext.Current.CancellationToken);
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(upgrade.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(2));
        await Assert.ThrowsAsync<WebSocketException>(() => upgrade.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, socket.HttpStatusCode);
    }

    [Fact]
    public async Task A_guard_is_cut_off_when_the_clock_passes_its_time_limit()
    {
        await using var server = await StartAsync(
            o => o.GuardTimeout = TimeSpan.FromSeconds(10),
            connectionGuards: [typeof(HangingGuard)]);
        await using var client = await server.ConnectAsync();
        await server.Services.GetRequiredService<HangingGuard.Entered>().Signal.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        _time.Advance(TimeSpan.FromSeconds(11));
        Assert.Null(await client.ReceiveAsync());
        Assert.Equal(WebSocketCloseStatus.InternalServerError, client.CloseStatus);
    }

    [Fact]
    public async Task A_message_dripped_fragment_by_fragment_is_cut_off_at_its_time_limit_though_each_fragment_is_activity()
    {
        await using var server = await StartAsync(o =>
        {
            o.IdleTimeout = TimeSpan.FromSeconds(3);
            o.FragmentedMessageTimeout = TimeSpan.FromSeconds(5);
        });
        await using var raw = await RawSocket.ConnectAsync(server);
        Assert.Contains("ori.ready", await raw.ReadTextAsync(), StringComparison.Ordinal);

        // A fragment every second: never idle for 3 s, but the message is not complete after 5 s.
        await raw.SendAsync(RawSocket.Frame(0x1, fin: false, "{\"type\":\"echo\","u8));
        for (var second = 1; second <= 4; second++)
        {
            await Task.Delay(50, TestContext.Current.CancellationToken); // the fragment before this one has been read
            _time.Advance(TimeSpan.FromSeconds(1));
            await raw.SendAsync(RawSocket.Frame(0x0, fin: false, " "u8));
        }

        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.Equal(0, server.Logs.Entries.Count(e => e.Message.Contains("fragmented message in time", StringComparison.Ordinal)));
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(SocketCloseCodes.PolicyViolation, await raw.ReadCloseCodeAsync());
    }

    [Fact]
    public async Task A_handler_that_keeps_failing_is_logged_five_times_a_minute_and_then_counted()
    {
        await using var server = await StartAsync(o =>
        {
            o.IdleTimeout = TimeSpan.Zero;
            o.MessagesPerSecond = 0;
        });
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        for (var i = 0; i < 200; i++)
        {
            await client.SendJsonAsync(new { type = "fail", correlationId = $"f{i}" });
        }

        for (var i = 0; i < 200; i++)
        {
            Assert.Equal("internal_error", (await client.ReceiveJsonAsync()).GetProperty("error").GetString());
        }

        bool IsFailure((Microsoft.Extensions.Logging.LogLevel Level, int EventId, string Message, Exception? Exception) e) =>
            e.Message.StartsWith("The handler of 'fail' failed on socket", StringComparison.Ordinal);
        Assert.Equal(5, server.Logs.Entries.Count(IsFailure));
        Assert.All(server.Logs.Entries.Where(IsFailure), e => Assert.NotNull(e.Exception));

        // A minute later: the count of what was not logged, and the next failure in full.
        _time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal("internal_error", (await client.RequestAsync("fail", null, "late")).GetProperty("error").GetString());
        Assert.Equal(6, server.Logs.Entries.Count(IsFailure));
        Assert.Single(server.Logs.Entries, e => e.Message.Contains("failed 195 more times", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Client_text_that_reaches_a_log_is_cut_and_escaped()
    {
        await using var server = await StartAsync();
        using var socket = TestClient.CreateSocket("https://evil.example/" + new string('x', 5000));
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(server.WsUri, TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.Forbidden, socket.HttpStatusCode);
        var entry = Assert.Single(server.Logs.Entries, e => e.Message.Contains("was refused (not on the allow-list)", StringComparison.Ordinal));
        Assert.InRange(entry.Message.Length, 100, 400);
        Assert.Contains("(5021 characters)", entry.Message, StringComparison.Ordinal);
        Assert.Equal("a\\u000ab", Ori.Sockets.Telemetry.SocketLog.ClientText("a\nb"));
    }

    private Task<TestServer> StartAsync(Action<OriSocketsOptions>? options = null, Type[]? connectionGuards = null) =>
        TestServer.StartAsync(options: options, connectionGuards: connectionGuards, builder: b =>
        {
            b.Services.AddSingleton<TimeProvider>(_time);
            b.Services.AddSingleton<HangingGuard.Entered>();
        });

    private sealed class HangingGuard(HangingGuard.Entered entered) : IConnectionGuard
    {
        public async ValueTask<bool> CanConnectAsync(ConnectionGuardContext context)
        {
            entered.Signal.TrySetResult();

            // Ignores its token on purpose: the runtime must time it out anyway.
            await Task.Delay(Timeout.Infinite, CancellationToken.None);
            return true;
        }

        public sealed class Entered
        {
            public TaskCompletionSource Signal { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }
}

/// <summary>Credentials that expire close the socket at that moment with 4001, on the application's clock.</summary>
public sealed class CredentialsExpiryTests
{
    private static readonly DateTimeOffset s_start = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(s_start);

    [Fact]
    public async Task An_expiry_a_guard_sets_closes_the_socket_with_4001_when_the_clock_reaches_it()
    {
        await using var server = await TestServer.StartAsync(
            options: o => o.IdleTimeout = TimeSpan.Zero,
            connectionGuards: [typeof(ExpiringGuard)],
            builder: b => b.Services.AddSingleton<TimeProvider>(_time));
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();

        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal("ok", (await client.RequestAsync("echo", new { text = "ok" })).GetProperty("data").GetProperty("text").GetString());
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal((WebSocketCloseStatus)SocketCloseCodes.CredentialsExpired, await client.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task The_users_exp_claim_closes_the_socket_when_no_guard_sets_an_expiry()
    {
        var exp = s_start.AddMinutes(5).ToUnixTimeSeconds();
        await using var server = await TestServer.StartAsync(
            options: o => o.IdleTimeout = TimeSpan.Zero,
            builder: b => b.Services.AddSingleton<TimeProvider>(_time),
            app: a => a.Use((http, next) =>
            {
                // What JWT bearer authentication leaves: a user with an exp claim.
                http.User = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity(
                    [new System.Security.Claims.Claim("sub", "ann"), new System.Security.Claims.Claim("exp", exp.ToString(System.Globalization.CultureInfo.InvariantCulture))], "Test"));
                return next(http);
            }));
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        _time.Advance(TimeSpan.FromMinutes(4));
        await client.SendAsync("2");
        Assert.Equal("3", await client.ReceiveAsync());
        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal((WebSocketCloseStatus)SocketCloseCodes.CredentialsExpired, await client.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Credentials_already_expired_close_the_socket_at_once_without_ready()
    {
        await using var server = await TestServer.StartAsync(
            options: o => o.IdleTimeout = TimeSpan.Zero,
            connectionGuards: [typeof(ExpiredGuard)],
            builder: b => b.Services.AddSingleton<TimeProvider>(_time));
        await using var client = await server.ConnectAsync();
        Assert.Null(await client.ReceiveAsync());
        Assert.Equal((WebSocketCloseStatus)SocketCloseCodes.CredentialsExpired, client.CloseStatus);
    }

    private sealed class ExpiringGuard(TimeProvider time) : IConnectionGuard
    {
        public ValueTask<bool> CanConnectAsync(ConnectionGuardContext context)
        {
            context.CredentialsExpireAt = time.GetUtcNow().AddMinutes(1);
            return new(true);
        }
    }

    private sealed class ExpiredGuard(TimeProvider time) : IConnectionGuard
    {
        public ValueTask<bool> CanConnectAsync(ConnectionGuardContext context)
        {
            context.CredentialsExpireAt = time.GetUtcNow().AddSeconds(-1);
            return new(true);
        }
    }
}

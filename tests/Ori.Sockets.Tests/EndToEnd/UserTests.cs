using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>Who a socket is (a guard sets it), sends to every socket of a user, and disconnecting a user (1008).</summary>
public sealed class UserTests
{
    [Fact]
    public async Task A_send_to_a_user_reaches_each_of_their_sockets_once_and_leaves_out_the_excluded_ones()
    {
        await using var server = await TestServer.StartAsync(connectionGuards: [typeof(UserFromQueryGuard)]);

        // One after the other, each ready before the next connects: a user's sockets are listed in the order they joined,
        // and two guards running at once may finish in either order.
        await using var phone = await server.ConnectAsync("user=alice");
        var phoneId = await phone.ReadyAsync();
        await using var laptop = await server.ConnectAsync("user=alice");
        await laptop.ReadyAsync();
        await using var bob = await server.ConnectAsync("user=bob");
        await bob.ReadyAsync();

        // Handlers see who the socket is.
        var whoami = await phone.RequestAsync("whoami");
        Assert.Equal("alice", whoami.GetProperty("data").GetProperty("userId").GetString());
        Assert.Equal(2, server.Services.GetRequiredService<SocketHub>().GetUserSockets("alice").Count);
        var aliceSockets = await server.Services.GetRequiredService<ISocketPresence>().GetUserSocketsAsync("alice", TestContext.Current.CancellationToken);
        Assert.Equal(phoneId, aliceSockets[0].SocketId);
        Assert.Equal(2, aliceSockets.Count);
        Assert.All(aliceSockets, s => Assert.Equal("alice", s.UserId));
        Assert.Empty(await server.Services.GetRequiredService<ISocketPresence>().GetUserSocketsAsync("nobody", TestContext.Current.CancellationToken));

        await server.Emitter.SendToUserAsync("alice", SocketFrame.Text("""{"name":"note","data":{"text":"to-alice"},"timestamp":1}"""), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Contains("to-alice", await phone.ReceiveAsync(), StringComparison.Ordinal);
        Assert.Contains("to-alice", await laptop.ReceiveAsync(), StringComparison.Ordinal);
        await bob.AssertSilentAsync(TimeSpan.FromMilliseconds(300));

        await server.Emitter.SendToUserAsync("alice", SocketFrame.Text("""{"name":"note","data":{"text":"not-the-phone"},"timestamp":1}"""), [phoneId], TestContext.Current.CancellationToken);
        Assert.Contains("not-the-phone", await laptop.ReceiveAsync(), StringComparison.Ordinal);
        await phone.AssertSilentAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task Disconnecting_a_user_closes_every_socket_of_theirs_with_1008_and_no_other()
    {
        await using var server = await TestServer.StartAsync(connectionGuards: [typeof(UserFromQueryGuard)]);
        await using var phone = await server.ConnectAsync("user=alice");
        await using var laptop = await server.ConnectAsync("user=alice");
        await using var bob = await server.ConnectAsync("user=bob");
        await phone.ReadyAsync();
        await laptop.ReadyAsync();
        await bob.ReadyAsync();

        await server.Emitter.DisconnectUserAsync("alice", "Access revoked", TestContext.Current.CancellationToken);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await phone.WaitForCloseAsync());
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await laptop.WaitForCloseAsync());
        Assert.Equal("Access revoked", phone.CloseDescription);
        await Eventually.TrueAsync(() => server.Services.GetRequiredService<SocketHub>().GetUserSockets("alice").Count == 0);

        var echo = await bob.RequestAsync("echo", new { text = "still here" });
        Assert.Equal("still here", echo.GetProperty("data").GetProperty("text").GetString());
    }

    [Fact]
    public async Task An_invalid_user_id_fails_the_connection_and_an_invalid_target_is_refused()
    {
        await using var server = await TestServer.StartAsync(connectionGuards: [typeof(UserFromQueryGuard)]);
        await using var client = await server.ConnectAsync("user=" + Uri.EscapeDataString("a b"));
        Assert.Equal(WebSocketCloseStatus.InternalServerError, await client.WaitForCloseAsync());
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("is not valid", StringComparison.Ordinal) && e.Message.Contains("a b", StringComparison.Ordinal));

        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await server.Emitter.SendToUserAsync("bad\nid", SocketFrame.Text("{}"), cancellationToken: TestContext.Current.CancellationToken));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await server.Emitter.DisconnectUserAsync(new string('x', 257), "r", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Without_a_guard_the_user_id_comes_from_the_authenticated_users_name_identifier_and_anonymous_sockets_have_none()
    {
        await using var server = await TestServer.StartAsync(app: a => a.Use((HttpContext context, RequestDelegate next) =>
        {
            if (context.Request.Query["user"].ToString() is { Length: > 0 } user)
            {
                context.User = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity([new System.Security.Claims.Claim(System.Security.Claims.ClaimTypes.NameIdentifier, user)], "test"));
            }

            return next(context);
        }));
        await using var carol = await server.ConnectAsync("user=carol");
        await using var anonymous = await server.ConnectAsync();
        await carol.ReadyAsync();
        await anonymous.ReadyAsync();
        Assert.Equal("carol", (await carol.RequestAsync("whoami")).GetProperty("data").GetProperty("userId").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, (await anonymous.RequestAsync("whoami")).GetProperty("data").GetProperty("userId").ValueKind);
    }
}

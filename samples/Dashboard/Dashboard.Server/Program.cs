// The minimal Ori.Sockets server that README's run command starts until the Dashboard sample
// (with generated routers) replaces it: a WebSocket endpoint at /ws, a token guard, a room rule,
// and an HTTP endpoint that publishes to a room.
using Ori.Sockets;
using Ori.Sockets.Routing;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddOriSockets()
    .AddConnectionGuard<DemoTokenGuard>()
    .AddRoomRule((socket, room) => room == $"account:{socket.GetState<DemoUser>().AccountId}");

var app = builder.Build();
app.MapOriSockets("/ws");
app.MapGet("/", () => Results.Text(
    "Ori.Sockets sample server. Connect a WebSocket to /ws?token=alice-token, send {\"type\":\"room.join\",\"data\":{\"room\":\"account:acme\"}}, then POST /api/announce?account=acme&text=hello.",
    "text/plain"));
app.MapPost("/api/announce", async (string account, string text, ISocketEmitter emitter) =>
{
    await emitter.PublishAsync($"account:{account}", System.Text.Json.JsonSerializer.Serialize(new { name = "announcement", data = new { text }, timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }));
    return Results.Accepted();
});
app.MapGet("/api/stats", (ISocketProvider provider, SocketHub hub) => Results.Ok(new { connections = provider.ConnectionCount, topics = hub.GetSubscriberCounts() }));

app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine($"Ori.Sockets sample listening on {string.Join(", ", app.Urls)} (WebSocket at /ws)"));
app.Run();

/// <summary>A demo user, the state the token guard sets.</summary>
internal sealed record DemoUser(string UserId, string AccountId);

/// <summary>Accepts the demo tokens from the query string.</summary>
internal sealed class DemoTokenGuard : ConnectionGuard<DemoUser>
{
    protected override ValueTask<DemoUser?> AuthenticateAsync(ConnectionGuardContext context) =>
        new(context.HttpContext.Request.Query["token"].ToString() switch
        {
            "alice-token" => new DemoUser("alice", "acme"),
            "bob-token" => new DemoUser("bob", "acme"),
            "eve-token" => new DemoUser("eve", "globex"),
            _ => null,
        });
}

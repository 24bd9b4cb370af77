using System.Collections.Concurrent;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

public sealed class ConnectionHandlerTests
{
    [Fact]
    public async Task Handlers_hear_ready_connections_and_their_end_after_they_left_their_topics()
    {
        var journal = new Journal();
        await using var server = await TestServer.StartAsync(
            sockets: s => s.AddConnectionHandler<JournalHandler>(),
            builder: b => b.Services.AddSingleton(journal));

        var (client, id) = await TestClient.ConnectReadyAsync(server.WsUri);
        await Eventually.TrueAsync(() => journal.Events.Contains($"connected {id}"));
        await server.Provider.SubscribeAsync(id, "room:a", TestContext.Current.CancellationToken);

        await client.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", TestContext.Current.CancellationToken);
        await Eventually.TrueAsync(() => journal.Events.Contains($"disconnected {id} topics=0"));
        await client.DisposeAsync();
    }

    [Fact]
    public async Task A_failing_connected_handler_closes_with_1011_and_is_logged()
    {
        await using var server = await TestServer.StartAsync(sockets: s => s.AddConnectionHandler<FailingHandler>());
        await using var client = await server.ConnectAsync();
        Assert.Equal(WebSocketCloseStatus.InternalServerError, await client.WaitForCloseAsync());
        Assert.Contains(server.Logs.Entries, e => e.Exception?.Message == "handler-broke");
    }

    [Fact]
    public async Task Refused_connections_are_never_reported()
    {
        var journal = new Journal();
        await using var server = await TestServer.StartAsync(
            sockets: s => s.AddConnectionHandler<JournalHandler>(),
            connectionGuards: [typeof(RefuseAll)],
            builder: b => b.Services.AddSingleton(journal));
        await using var client = await server.ConnectAsync();
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.WaitForCloseAsync());
        await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.Empty(journal.Events);
    }

    internal sealed class Journal
    {
        public ConcurrentBag<string> Events { get; } = [];
    }

    internal sealed class JournalHandler(Journal journal, ISocketProvider provider) : ISocketConnectionHandler
    {
        public ValueTask OnConnectedAsync(SocketContext context)
        {
            journal.Events.Add($"connected {context.SocketId}");
            return ValueTask.CompletedTask;
        }

        public ValueTask OnDisconnectedAsync(SocketContext context)
        {
            journal.Events.Add($"disconnected {context.SocketId} topics={provider.GetSubscriberCount("room:a")}");
            return ValueTask.CompletedTask;
        }
    }

    internal sealed class FailingHandler : ISocketConnectionHandler
    {
        public ValueTask OnConnectedAsync(SocketContext context) => throw new InvalidOperationException("handler-broke");

        public ValueTask OnDisconnectedAsync(SocketContext context) => ValueTask.CompletedTask;
    }

    internal sealed class RefuseAll : ConnectionGuard<string>
    {
        protected override ValueTask<string?> AuthenticateAsync(ConnectionGuardContext context) => new((string?)null);
    }
}

using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Client.Tests;

// The contracts a chat client shares with its server.

[SocketMessage("chat.send")]
public sealed partial record ChatSend([property: Required, StringLength(20)] string Text) : ISocketRequest<ChatAck>;

public sealed record ChatAck(int Length, string From);

[SocketMessage("chat.note")]
public sealed partial record ChatNote(int Number);

[SocketMessage("chat.message")]
public sealed partial record ChatMessage(string Text);

[SocketMessage("chat.abuse")]
public sealed partial record ChatAbuse(string Text) : ISocketRequest<ChatAck>;

public sealed record Member(string Name);

public sealed class MemberGuard(Journal journal) : ConnectionGuard<Member>
{
    protected override ValueTask<Member?> AuthenticateAsync(ConnectionGuardContext context)
    {
        // A token from the query, or a bearer token; "short:…" tokens expire 300 ms after the connection is accepted.
        var header = context.HttpContext.Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..] : context.HttpContext.Request.Query["token"].ToString();
        journal.Connections.Add(token);
        if (token.StartsWith("short:", StringComparison.Ordinal))
        {
            context.CredentialsExpireAt = DateTimeOffset.UtcNow.AddMilliseconds(300);
            return new(new Member("ann"));
        }

        return new(token == "ok" ? new Member("ann") : null);
    }
}

public sealed class AbuseGuard : IMessageGuard
{
    public ValueTask<MessageGuardVerdict> CheckAsync(SocketInvocation invocation) => new(MessageGuardVerdict.Close);
}

/// <summary>What the server saw, across restarts.</summary>
public sealed class Journal
{
    public ConcurrentQueue<int> Notes { get; } = new();

    public ConcurrentQueue<string> Sent { get; } = new();

    public ConcurrentBag<string> Connections { get; } = [];
}

[SocketEndpoint(typeof(ChatRouter))]
[ConnectionGuard(typeof(MemberGuard))]
public sealed partial class ChatSocket;

public sealed class ChatRouter(Journal journal)
{
    [SocketRoute("chat.send")]
    public ChatAck Send(ChatSend message, SocketContext<Member> context)
    {
        journal.Sent.Enqueue(message.Text);
        return new(message.Text.Length, context.State.Name);
    }

    [SocketRoute("chat.note")]
    public void Note(ChatNote note) => journal.Notes.Enqueue(note.Number);

    [SocketRoute("chat.abuse")]
    [MessageGuard(typeof(AbuseGuard))]
    public static ChatAck Abuse(ChatAbuse message) => new(0, message.Text);
}

/// <summary>A real Kestrel on a fixed loopback port, so that it can be stopped and started again.</summary>
internal sealed class ChatServer : IAsyncDisposable
{
    private readonly Action<OriSocketsOptions>? _options;
    private readonly TimeSpan _shutdownTimeout;
    private WebApplication? _app;

    private ChatServer(int port, Journal journal, Action<OriSocketsOptions>? options, TimeSpan shutdownTimeout)
    {
        Port = port;
        Journal = journal;
        _options = options;
        _shutdownTimeout = shutdownTimeout;
    }

    public int Port { get; }

    public Journal Journal { get; }

    public Uri Uri(string token = "ok") => new($"ws://127.0.0.1:{Port}/ws?token={token}");

    public IServiceProvider Services => _app!.Services;

    public ISocketEmitter Emitter => Services.GetRequiredService<ISocketEmitter>();

    public ISocketProvider Provider => Services.GetRequiredService<ISocketProvider>();

    public static async Task<ChatServer> StartAsync(Action<OriSocketsOptions>? options = null, TimeSpan? shutdownTimeout = null)
    {
        var server = new ChatServer(TestEnvironment.FreePort(), new Journal(), options, shutdownTimeout ?? TimeSpan.FromSeconds(5));
        await server.StartAgainAsync();
        return server;
    }

    public async Task StartAgainAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, Port));
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = _shutdownTimeout);
        builder.Services.AddSingleton(Journal);
        builder.Services.AddOriSockets(_options).AddSocketRouters().AddRoomRule((_, room) => !room.StartsWith("forbidden:", StringComparison.Ordinal)).AddRecoverableTopics("feed:*", maxMessages: 5);
        _app = builder.Build();
        _app.MapOriSockets<ChatSocket>("/ws");
        await _app.StartAsync();
    }

    public async Task StopAsync()
    {
        if (_app is null)
        {
            return;
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = null;
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}

/// <summary>A TCP relay between client and server that can stop passing the server's bytes (a dead network).</summary>
internal sealed class FreezableProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private volatile int _target;
    private volatile bool _frozen;

    public FreezableProxy(int target)
    {
        _target = target;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = AcceptAsync();
    }

    public int Port { get; }

    public int Accepted;

    /// <summary>The server port new connections go to (a load balancer that moves to another instance).</summary>
    public int Target
    {
        get => _target;
        set => _target = value;
    }

    public void Freeze() => _frozen = true;

    public void Thaw() => _frozen = false;

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref Accepted);
                var server = new TcpClient();
                await server.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
                _ = PumpAsync(client.GetStream(), server.GetStream(), fromServer: false);
                _ = PumpAsync(server.GetStream(), client.GetStream(), fromServer: true);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task PumpAsync(Stream from, Stream to, bool fromServer)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                if (fromServer && _frozen)
                {
                    continue; // swallowed: the client hears nothing
                }

                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
        finally
        {
            from.Dispose();
            to.Dispose();
        }
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
        return ValueTask.CompletedTask;
    }
}

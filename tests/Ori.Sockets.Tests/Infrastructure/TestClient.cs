using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Ori.Sockets.Tests.Infrastructure;

/// <summary>A <see cref="ClientWebSocket"/> with the helpers tests need; every wait has a time limit.</summary>
internal sealed class TestClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    private readonly byte[] _buffer = new byte[256 * 1024];
    private readonly System.Threading.Channels.Channel<string> _inbox = System.Threading.Channels.Channel.CreateUnbounded<string>();
    private Task? _pump;
    private volatile TaskCompletionSource? _paused;

    private TestClient(ClientWebSocket socket) => Socket = socket;

    public ClientWebSocket Socket { get; }

    public WebSocketCloseStatus? CloseStatus => Socket.CloseStatus;

    public string? CloseDescription => Socket.CloseStatusDescription;

    public static async Task<TestClient> ConnectAsync(Uri uri, string? origin = null, Action<ClientWebSocketOptions>? configure = null)
    {
        var socket = CreateSocket(origin);
        configure?.Invoke(socket.Options);
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await socket.ConnectAsync(uri, timeout.Token);
        return new TestClient(socket);
    }

    public static ClientWebSocket CreateSocket(string? origin = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }

        return socket;
    }

    /// <summary>Connects and waits for <c>ori.ready</c>; returns the client and its socket id.</summary>
    public static async Task<(TestClient Client, string SocketId)> ConnectReadyAsync(Uri uri)
    {
        var client = await ConnectAsync(uri);
        var id = await client.ReadyAsync();
        return (client, id);
    }

    public async Task<string> ReadyAsync()
    {
        var ready = await ReceiveJsonAsync();
        Assert.Equal("ori.ready", ready.GetProperty("name").GetString());
        return ready.GetProperty("data").GetProperty("socketId").GetString()!;
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true);

    public async Task SendAsync(byte[] bytes, WebSocketMessageType type, bool endOfMessage)
    {
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await Socket.SendAsync(bytes, type, endOfMessage, timeout.Token);
    }

    public Task SendJsonAsync(object envelope) => SendAsync(JsonSerializer.Serialize(envelope));

    /// <summary>Receives one whole text message; null when the server closed.</summary>
    public async Task<string?> ReceiveAsync(TimeSpan? timeout = null)
    {
        // Reading goes through a pump started on first use: canceling a ClientWebSocket receive
        // aborts the socket, so waits with a time limit are on the queue, never on the socket. A
        // client that never asks to receive never reads (the slow-consumer test relies on it).
        _pump ??= Task.Run(PumpAsync);
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            return await _inbox.Reader.ReadAsync(cts.Token);
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            return null;
        }
    }

    private async Task PumpAsync()
    {
        try
        {
            var length = 0;
            while (true)
            {
                if (_paused is { } paused)
                {
                    await paused.Task;
                }

                var result = await Socket.ReceiveAsync(_buffer.AsMemory(length), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                length += result.Count;
                if (result.EndOfMessage)
                {
                    var text = result.MessageType == WebSocketMessageType.Text
                        ? Encoding.UTF8.GetString(_buffer, 0, length)
                        : $"<binary {length} bytes>";
                    await _inbox.Writer.WriteAsync(text);
                    length = 0;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            _inbox.Writer.TryComplete();
        }
    }

    public async Task<JsonElement> ReceiveJsonAsync(TimeSpan? timeout = null)
    {
        var text = await ReceiveAsync(timeout) ?? throw new InvalidOperationException($"The server closed the socket ({CloseStatus}: {CloseDescription}).");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>Sends an envelope and returns the reply.</summary>
    public async Task<JsonElement> RequestAsync(string type, object? data = null, string? correlationId = "c1")
    {
        var envelope = new Dictionary<string, object?> { ["type"] = type };
        if (data is not null)
        {
            envelope["data"] = data;
        }

        if (correlationId is not null)
        {
            envelope["correlationId"] = correlationId;
        }

        await SendJsonAsync(envelope);
        return await ReceiveJsonAsync();
    }

    /// <summary>
    /// Stops reading from the socket after the message now being received (a slow consumer): the
    /// server's frames pile up in the transport and then in the server's queue.
    /// </summary>
    public void StopReading() => _paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Reads again after <see cref="StopReading"/>.</summary>
    public void ResumeReading()
    {
        var paused = _paused;
        _paused = null;
        paused?.TrySetResult();
    }

    /// <summary>Reads (and drops) messages until the server closes; returns the close status.</summary>
    public async Task<WebSocketCloseStatus?> WaitForCloseAsync(TimeSpan? timeout = null)
    {
        ResumeReading();
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (await ReceiveAsync(deadline - DateTime.UtcNow) is not null)
        {
        }

        return Socket.CloseStatus;
    }

    /// <summary>Asserts that nothing arrives within <paramref name="window"/>.</summary>
    public async Task AssertSilentAsync(TimeSpan window)
    {
        try
        {
            var text = await ReceiveAsync(window);
            Assert.Fail($"Expected nothing, got: {text ?? $"a close ({CloseStatus})"}");
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        ResumeReading();
        if (Socket.State == WebSocketState.Open)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }

        Socket.Dispose();
        if (_pump is not null)
        {
            await _pump;
        }
    }
}

using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Ori.Sockets.Tests.Infrastructure;

/// <summary>A <see cref="ClientWebSocket"/> with the helpers tests need; every wait has a time limit.</summary>
internal sealed class TestClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    private readonly byte[] _buffer = new byte[256 * 1024];

    private TestClient(ClientWebSocket socket) => Socket = socket;

    public ClientWebSocket Socket { get; }

    public WebSocketCloseStatus? CloseStatus => Socket.CloseStatus;

    public string? CloseDescription => Socket.CloseStatusDescription;

    public static async Task<TestClient> ConnectAsync(Uri uri, string? origin = null)
    {
        var socket = CreateSocket(origin);
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
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var length = 0;
        while (true)
        {
            var result = await Socket.ReceiveAsync(_buffer.AsMemory(length), cts.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            length += result.Count;
            if (result.EndOfMessage)
            {
                return Encoding.UTF8.GetString(_buffer, 0, length);
            }
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

    /// <summary>Reads (and drops) messages until the server closes; returns the close status.</summary>
    public async Task<WebSocketCloseStatus?> WaitForCloseAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            while (true)
            {
                var result = await Socket.ReceiveAsync(_buffer.AsMemory(), cts.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return Socket.CloseStatus;
                }
            }
        }
        catch (WebSocketException)
        {
            return Socket.CloseStatus;
        }
    }

    /// <summary>Asserts that nothing arrives within <paramref name="window"/>.</summary>
    public async Task AssertSilentAsync(TimeSpan window)
    {
        using var cts = new CancellationTokenSource(window);
        try
        {
            var result = await Socket.ReceiveAsync(_buffer.AsMemory(), cts.Token);
            Assert.Fail($"Expected nothing, got a {result.MessageType} message: {Encoding.UTF8.GetString(_buffer, 0, result.Count)}");
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
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
    }
}

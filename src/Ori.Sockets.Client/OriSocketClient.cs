using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Ori.Sockets.Protocol;

namespace Ori.Sockets.Client;

/// <summary>
/// A client of an Ori.Sockets server that uses the shared message contracts: typed requests and
/// replies, typed pushes, rooms, with reconnects (jittered exponential backoff), the <c>2</c>/<c>3</c>
/// heartbeat, rooms joined again after each reconnect once the server is ready, and a bounded send
/// buffer while disconnected. Thread-safe. Handlers run on the client's receive loop, in order.
/// </summary>
public sealed class OriSocketClient : IAsyncDisposable
{
    private static readonly byte[] s_ping = [WireNames.Ping];
    private static readonly byte[] s_null = "null"u8.ToArray();
    private readonly Uri _uri;
    private readonly OriSocketClientOptions _options;
    private readonly Lock _sync = new();
    private readonly Dictionary<string, PendingRequest> _pending = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<PushHandler>> _handlers = new(StringComparer.Ordinal);
    private readonly List<string> _rooms = [];
    private readonly Dictionary<string, SocketPosition> _positions = new(StringComparer.Ordinal);
    private readonly LinkedList<Outgoing> _buffer = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _lifetime = new();
    private WebSocket? _socket;
    private TaskCompletionSource? _pong;
    private Task? _run;
    private long _nextId;

    // The delay ori.draining suggested (ms), used once for the reconnect after the server's 1001; -1 when none.
    private long _drainDelayMs = -1;
    private bool _ready;
    private OriSocketClientState _state = OriSocketClientState.Disconnected;

    /// <summary>Creates a client; nothing happens until <see cref="ConnectAsync"/>.</summary>
    /// <param name="uri">The server's WebSocket address, such as <c>ws://host/ws?token=…</c>.</param>
    /// <param name="options">Time limits, reconnects, heartbeat and buffer.</param>
    public OriSocketClient(Uri uri, OriSocketClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(uri);
        _uri = uri;
        _options = options ?? new OriSocketClientOptions();
    }

    /// <summary>Raised on every change of <see cref="State"/> (on the thread that caused it).</summary>
    public event Action<OriSocketClientStateChange>? StateChanged;

    /// <summary>
    /// Raised for what has no caller to tell: a push handler that threw, a push whose data does not
    /// validate, an error reply to a send without correlation id, a room that could not be joined again, an
    /// unforeseen failure inside one of the client's loops (the connection is then dropped and made again), or a
    /// <see cref="StateChanged"/> handler that threw. An exception thrown by an <see cref="Error"/> handler is ignored.
    /// </summary>
    public event Action<Exception>? Error;

    /// <summary>
    /// Raised, on the receive loop, when the client learns whether a recoverable topic's continuity held: after each
    /// rejoin that asked to recover (the missed pushes follow, in order, before anything newer), and when pushes were
    /// missed on a live connection or the topic's history began again. On <c>Recovered: false</c>, refetch what the
    /// topic's pushes build.
    /// </summary>
    public event Action<OriSocketRecovery>? Recovery;

    /// <summary>
    /// The last position seen on a recoverable topic (its last push, or the position its join reported), for routes
    /// that subscribe on the server's side and take a position to recover from; <see langword="null"/> when none.
    /// Duplicates (an offset at or below it) are dropped before handlers see them.
    /// </summary>
    /// <param name="topic">The topic.</param>
    /// <returns>The position, or <see langword="null"/>.</returns>
    public SocketPosition? GetPosition(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        lock (_sync)
        {
            return _positions.TryGetValue(topic, out var position) ? position : null;
        }
    }

    /// <summary>
    /// Tests only: called at each loop's step ("connect", "receive", "send", "flush", "heartbeat", "rejoin");
    /// whatever it throws is what that step would meet when it fails in a way nobody foresaw.
    /// </summary>
    internal Action<string>? InjectFault { get; set; }

    /// <summary>Where the client is: connecting, connected (ready), reconnecting…</summary>
    public OriSocketClientState State
    {
        get
        {
            lock (_sync)
            {
                return _state;
            }
        }
    }

    /// <summary>The socket id of the current connection (from <c>ori.ready</c>), or null.</summary>
    public string? SocketId { get; private set; }

    /// <summary>Messages waiting in the send buffer.</summary>
    public int BufferedCount
    {
        get
        {
            lock (_sync)
            {
                return _buffer.Count;
            }
        }
    }

    /// <summary>
    /// Connects and waits for <c>ori.ready</c>. Throws <see cref="OriSocketConnectionException"/> when the
    /// first connection fails (with <see cref="OriSocketConnectionException.CloseStatus"/> 1008 when the
    /// server's guard refused it); once connected, lost connections are retried by the client itself.
    /// </summary>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>Completes when the client is ready.</returns>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        lock (_sync)
        {
            if (_state != OriSocketClientState.Disconnected || _run is not null)
            {
                throw new InvalidOperationException($"The client is {_state}; ConnectAsync is called once.");
            }
        }

        SetState(OriSocketClientState.Connecting, null, null);
        WebSocket socket;
        try
        {
            socket = await ConnectOnceAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            var status = (ex as OriSocketConnectionException)?.CloseStatus;
            SetState(status == SocketCloseCodes.PolicyViolation ? OriSocketClientState.Closed : OriSocketClientState.Disconnected, status, ex.Message);
            throw;
        }

        SetState(OriSocketClientState.Connected, null, null);
        await ReadyOrDropAsync(socket).ConfigureAwait(false);
        _run = Task.Run(() => RunAsync(socket), CancellationToken.None);
    }

    /// <summary>
    /// Sends a request and returns its reply, typed by the contract: <c>await client.RequestAsync(new PresenceUpdate("idle"))</c>
    /// returns a <c>PresenceAck</c>. Buffered while the client is reconnecting (its time limit runs meanwhile).
    /// </summary>
    /// <typeparam name="TReply">The reply type the request's contract declares.</typeparam>
    /// <param name="request">The request, a partial <c>[SocketMessage]</c> type implementing <see cref="ISocketRequest{TReply}"/>.</param>
    /// <param name="cancellationToken">Cancels the wait (the request may still reach the server).</param>
    /// <returns>The reply's data.</returns>
    /// <exception cref="OriSocketErrorException">The server replied with an error (code, message, details).</exception>
    /// <exception cref="TimeoutException">No reply within <see cref="OriSocketClientOptions.RequestTimeout"/>.</exception>
    /// <exception cref="OriSocketConnectionException">The connection was lost before the reply.</exception>
    /// <exception cref="OriSocketBufferFullException">Not connected and the send buffer is full.</exception>
    public Task<TReply> RequestAsync<TReply>(ISocketRequest<TReply> request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var serializer = request.ReplySerializer;
        return SendRequestAsync(request.RequestType, request, static (writer, r) => r.WriteRequestData(writer), serializer, cancellationToken);
    }

    /// <summary>
    /// Sends a message without waiting for a reply (no correlation id). While the client reconnects it waits in the send
    /// buffer; the task completes when the message was handed to an open socket, so a send that succeeded was sent. Canceled
    /// while it waits, it leaves the buffer in the same step and is never sent.
    /// </summary>
    /// <typeparam name="TMessage">A <c>[SocketMessage]</c> type.</typeparam>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the send while it waits in the buffer.</param>
    /// <returns>Completes when the message was handed to an open socket.</returns>
    /// <exception cref="OriSocketBufferFullException">Not connected, and the send buffer is full.</exception>
    public Task SendAsync<TMessage>(TMessage message, CancellationToken cancellationToken = default)
        where TMessage : ISocketMessage<TMessage>
    {
        var bytes = Envelope(TMessage.MessageName, null, message, static (writer, m) => TMessage.Serializer.Write(writer, m));
        return SendOrBufferAsync(bytes, cancellationToken);
    }

    /// <summary>Calls <paramref name="handler"/> for every push of <typeparamref name="TMessage"/>.</summary>
    /// <typeparam name="TMessage">A <c>[SocketMessage]</c> type; its name selects the pushes.</typeparam>
    /// <param name="handler">Gets the push's data, read and validated by the generated serializer.</param>
    /// <returns>Dispose it to stop.</returns>
    public IDisposable On<TMessage>(Action<TMessage> handler)
        where TMessage : ISocketMessage<TMessage>
    {
        ArgumentNullException.ThrowIfNull(handler);
        var entry = new PushHandler(data =>
        {
            if (!TMessage.Serializer.TryDeserialize(data.Span, out var value, out var errors, root: "$.data"))
            {
                throw new OriSocketErrorException("invalid_push", $"A '{TMessage.MessageName}' push did not validate.", errors);
            }

            handler(value);
        });
        lock (_sync)
        {
            if (!_handlers.TryGetValue(TMessage.MessageName, out var list))
            {
                _handlers[TMessage.MessageName] = list = [];
            }

            list.Add(entry);
        }

        return new Unsubscriber(this, TMessage.MessageName, entry);
    }

    /// <summary>
    /// Joins a room (the server's room rules decide) and remembers it: after every reconnect the client
    /// joins it again once the server is ready. While disconnected it is only remembered.
    /// </summary>
    /// <param name="room">The room (topic).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Completes when the server accepted the join (or at once while disconnected).</returns>
    /// <exception cref="OriSocketErrorException">The server refused it (<c>forbidden</c>); it is forgotten.</exception>
    public async Task JoinRoomAsync(string room, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(room);
        bool ready;
        lock (_sync)
        {
            if (!_rooms.Contains(room))
            {
                _rooms.Add(room);
            }

            ready = _ready;
        }

        if (!ready)
        {
            return;
        }

        try
        {
            var position = GetPosition(room);
            await SendRequestAsync(WireNames.RoomJoin, (room, position), static (writer, r) => EnvelopeWriter.WriteRoomData(writer, r.room, r.position), new JoinReply(this, room, position), cancellationToken).ConfigureAwait(false);
        }
        catch (OriSocketErrorException)
        {
            lock (_sync)
            {
                _rooms.Remove(room);
            }

            throw;
        }
    }

    /// <summary>Leaves a room and forgets it.</summary>
    /// <param name="room">The room.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Completes when the server answered (or at once while disconnected).</returns>
    public async Task LeaveRoomAsync(string room, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(room);
        bool ready;
        lock (_sync)
        {
            _rooms.Remove(room);
            _positions.Remove(room);
            ready = _ready;
        }

        if (ready)
        {
            await SendRequestAsync(WireNames.RoomLeave, room, static (writer, r) => EnvelopeWriter.WriteRoomData(writer, r), NullSerializer.Instance, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Closes the connection (1000) and stops reconnecting; pending requests fail.</summary>
    /// <returns>Completes when everything the client started has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        WebSocket? socket;
        lock (_sync)
        {
            if (_state == OriSocketClientState.Closed && _lifetime.IsCancellationRequested)
            {
                return;
            }

            socket = _socket;
            _ready = false;
        }

        SetState(OriSocketClientState.Closed, null, "disposed");
        await _lifetime.CancelAsync().ConfigureAwait(false);
        if (socket is { State: WebSocketState.Open })
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2), _options.TimeProvider);
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }

        socket?.Abort();
        if (_run is not null)
        {
            await _run.ConfigureAwait(false);
        }

        FailPending(new OriSocketConnectionException("The client was disposed."));
        FailBuffered(new OriSocketConnectionException("The client was disposed before the message could be sent."));
        socket?.Dispose();
        _sendLock.Dispose();
        _lifetime.Dispose();
    }

    private async Task RunAsync(WebSocket socket)
    {
        while (true)
        {
            var status = await ReceiveLoopAsync(socket).ConfigureAwait(false);
            lock (_sync)
            {
                _ready = false;
                _socket = null;
            }

            socket.Dispose();
            FailPending(new OriSocketConnectionException("The connection was lost before the reply.") { CloseStatus = status }, keepBuffered: true);
            if (_lifetime.IsCancellationRequested)
            {
                return;
            }

            if (status == SocketCloseCodes.PolicyViolation)
            {
                // Refused by policy: trying again would be refused again.
                SetState(OriSocketClientState.Closed, status, "closed by the server with 1008");
                FailBuffered(new OriSocketConnectionException("The server refused the connection (1008); the message was not sent.") { CloseStatus = status });
                return;
            }

            // After ori.draining the server closes with 1001 and asked for a delay: the first attempt waits it plus jitter.
            var drainDelay = Interlocked.Exchange(ref _drainDelayMs, -1);
            SetState(OriSocketClientState.Reconnecting, status, drainDelay >= 0 ? "the server is draining" : "connection lost");
            var next = await ReconnectAsync(drainDelay).ConfigureAwait(false);
            if (next is null)
            {
                FailBuffered(new OriSocketConnectionException("The client gave up reconnecting; the message was not sent."));
                return;
            }

            socket = next;
            SetState(OriSocketClientState.Connected, null, null);
            await ReadyOrDropAsync(socket).ConfigureAwait(false);
        }
    }

    private async Task<WebSocket?> ReconnectAsync(long drainDelayMs)
    {
        for (var attempt = 0; ; attempt++)
        {
            if (_options.MaxReconnectAttempts is { } max && attempt >= max)
            {
                SetState(OriSocketClientState.Disconnected, null, $"gave up after {attempt} attempts");
                return null;
            }

            try
            {
                var delay = attempt == 0 && drainDelayMs >= 0 ? DrainDelay(drainDelayMs) : Backoff(attempt);
                await Task.Delay(delay, _options.TimeProvider, _lifetime.Token).ConfigureAwait(false);
                return await ConnectOnceAsync(_lifetime.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
            {
                return null;
            }
            catch (OriSocketConnectionException ex) when (ex.CloseStatus == SocketCloseCodes.PolicyViolation)
            {
                SetState(OriSocketClientState.Closed, ex.CloseStatus, ex.Message);
                return null;
            }
#pragma warning disable CA1031 // Whatever failed (a token provider, say), the client tries again rather than stop for good.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                if (ex is not (OriSocketConnectionException or WebSocketException or OperationCanceledException or TimeoutException))
                {
                    ReportError(ex);
                }

                // Try again after a longer delay.
            }
        }
    }

    /// <summary>
    /// The first reconnect after a drain: the server's suggested delay plus up to as much again at random (at least up to
    /// the first reconnect delay), so that a server's clients come back spread out rather than in one burst.
    /// </summary>
    internal TimeSpan DrainDelay(long suggestedMs)
    {
        var jitter = Math.Max(suggestedMs, _options.ReconnectInitialDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(suggestedMs + (Random.Shared.NextDouble() * jitter));
    }

    /// <summary><c>ori.draining</c>'s <c>reconnectAfterMs</c>, within 0 to 5 minutes; 0 when absent or not a number.</summary>
    private static long ReadReconnectAfter(ReadOnlyMemory<byte> data)
    {
        try
        {
            var reader = new Utf8JsonReader(data.Span);
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isDelay = reader.ValueTextEquals(WireNames.Members.ReconnectAfterMs);
                    reader.Read();
                    if (isDelay && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var ms))
                    {
                        return Math.Clamp(ms, 0, 300_000);
                    }

                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
        }

        return 0;
    }

    /// <summary>Exponential backoff with equal jitter: half the delay fixed, half random.</summary>
    internal TimeSpan Backoff(int attempt)
    {
        var ceiling = Math.Min(_options.ReconnectMaxDelay.TotalMilliseconds, _options.ReconnectInitialDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30)));
        return TimeSpan.FromMilliseconds((ceiling / 2) + (Random.Shared.NextDouble() * ceiling / 2));
    }

    private async Task<WebSocket> ConnectOnceAsync(CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(_options.ConnectTimeout, _options.TimeProvider);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        WebSocket? socket = null;
        try
        {
            InjectFault?.Invoke("connect");

            // A fresh token for every attempt: the one the last connection had may be what expired.
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (_options.AccessTokenProvider is { } tokens && await tokens(timeout.Token).ConfigureAwait(false) is { Length: > 0 } token)
            {
                headers["Authorization"] = "Bearer " + token;
            }

            if (_options.WebSocketFactory is { } factory)
            {
                socket = await factory(_uri, headers, timeout.Token).ConfigureAwait(false)
                    ?? throw new InvalidOperationException("OriSocketClientOptions.WebSocketFactory returned no WebSocket.");
            }
            else
            {
                var client = new ClientWebSocket();
                socket = client;
                client.Options.KeepAliveInterval = TimeSpan.Zero;
                _options.ConfigureSocket?.Invoke(client.Options);
                foreach (var (name, value) in headers)
                {
                    client.Options.SetRequestHeader(name, value);
                }

                await client.ConnectAsync(_uri, timeout.Token).ConfigureAwait(false);
            }

            // The server sends ori.ready once its connection guards passed: nothing is sent before it.
            var buffer = new ArrayBufferWriter<byte>(1024);
            while (true)
            {
                var (type, status) = await ReceiveMessageAsync(socket, buffer, timeout.Token).ConfigureAwait(false);
                if (type == WebSocketMessageType.Close)
                {
                    throw new OriSocketConnectionException($"The server closed the connection before it was ready ({status}: {socket.CloseStatusDescription}).") { CloseStatus = status };
                }

                if (TryReadReady(buffer.WrittenMemory, out var socketId))
                {
                    SocketId = socketId;
                    return socket;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket?.Dispose();
            throw new OriSocketConnectionException($"The server was not ready within {_options.ConnectTimeout}.");
        }
        catch (WebSocketException ex)
        {
            socket?.Dispose();
            throw new OriSocketConnectionException($"Could not connect to {_uri.GetLeftPart(UriPartial.Path)}: {ex.Message}", ex);
        }
        catch
        {
            socket?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs <see cref="OnReadyAsync"/>; when it fails the socket is aborted, so the receive loop ends at once and the
    /// client reconnects: it is never left Connected on a socket it stopped using.
    /// </summary>
    private async Task ReadyOrDropAsync(WebSocket socket)
    {
        try
        {
            await OnReadyAsync(socket).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Any failure drops the connection; the unforeseen ones are reported.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            socket.Abort();
            if (ex is not OriSocketConnectionException)
            {
                ReportError(ex);
            }
        }
    }

    /// <summary>After ori.ready: join the remembered rooms (once each), then send what was buffered, then accept sends.</summary>
    private async Task OnReadyAsync(WebSocket socket)
    {
        string[] rooms;
        lock (_sync)
        {
            _socket = socket;
            rooms = [.. _rooms];
        }

        // Joined again first, once each, in the order they were joined; their replies come through the
        // receive loop, which starts after this, so they are awaited in the background.
        foreach (var room in rooms)
        {
            // With the last position seen on a recoverable room: what was missed while away comes first.
            var position = GetPosition(room);
            var (id, bytes, reply) = BeginRequest(WireNames.RoomJoin, (room, position), static (writer, r) => EnvelopeWriter.WriteRoomData(writer, r.room, r.position), new JoinReply(this, room, position));
            try
            {
                InjectFault?.Invoke("rejoin");
                await SendOnSocketAsync(socket, bytes, CancellationToken.None).ConfigureAwait(false);
            }
            catch
            {
                EndRequest(id);
                throw;
            }

            _ = AwaitRejoinAsync(id, room, reply);
        }

        while (true)
        {
            Outgoing next;
            lock (_sync)
            {
                if (_buffer.First is not { } first)
                {
                    _ready = true;
                    break;
                }

                // Taken for sending: from here a cancellation cannot recall it (its caller learns the send's outcome).
                next = first.Value;
                _buffer.RemoveFirst();
            }

            try
            {
                InjectFault?.Invoke("flush");
                await SendOnSocketAsync(socket, next.Bytes, CancellationToken.None).ConfigureAwait(false);
                next.Sent.TrySetResult();
            }
            catch
            {
                // Not sent: it goes back to the front, still waiting, for the next connection.
                lock (_sync)
                {
                    _buffer.AddFirst(next);
                }

                throw;
            }
        }
    }

    private async Task AwaitRejoinAsync(string id, string room, Task<bool> reply)
    {
        try
        {
            await reply.WaitAsync(_options.RequestTimeout, _options.TimeProvider).ConfigureAwait(false);
        }
        catch (OriSocketErrorException ex)
        {
            lock (_sync)
            {
                _rooms.Remove(room);
            }

            ReportError(ex);
        }
        catch (Exception ex) when (ex is OriSocketConnectionException or TimeoutException)
        {
            // The connection went again: the room is still remembered for the next one.
        }
        finally
        {
            EndRequest(id);
        }
    }


    private async Task<TReply> SendRequestAsync<TState, TReply>(string type, TState state, Action<Utf8JsonWriter, TState> writeData, SocketSerializer<TReply> replySerializer, CancellationToken cancellationToken)
    {
        var (id, bytes, reply) = BeginRequest(type, state, writeData, replySerializer);

        // One time limit for the whole request, buffered time included; a request that times out or is canceled while
        // buffered leaves the buffer in the same step, so it is never sent afterwards.
        using var deadline = new CancellationTokenSource(_options.RequestTimeout, _options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            await SendOrBufferAsync(bytes, linked.Token, id).ConfigureAwait(false);
            return await reply.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"No reply to '{type}' within {_options.RequestTimeout}.");
        }
        finally
        {
            EndRequest(id);
        }
    }

    private (string Id, byte[] Bytes, Task<TReply> Reply) BeginRequest<TState, TReply>(string type, TState state, Action<Utf8JsonWriter, TState> writeData, SocketSerializer<TReply> replySerializer)
    {
        var id = "c" + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var pending = new PendingRequest<TReply>(replySerializer);
        lock (_sync)
        {
            _pending[id] = pending;
        }

        return (id, Envelope(type, id, state, writeData), pending.Task);
    }

    private void EndRequest(string id)
    {
        lock (_sync)
        {
            _pending.Remove(id);
        }
    }

    private async Task SendOrBufferAsync(byte[] bytes, CancellationToken cancellationToken, string? correlationId = null)
    {
        WebSocket? socket;
        LinkedListNode<Outgoing>? buffered = null;
        lock (_sync)
        {
            if (_state == OriSocketClientState.Closed)
            {
                throw new OriSocketConnectionException("The client is closed.");
            }

            if (!_ready)
            {
                if (_buffer.Count >= _options.SendBufferLimit)
                {
                    throw new OriSocketBufferFullException($"The client is not connected and its send buffer is full ({_options.SendBufferLimit} messages).");
                }

                buffered = _buffer.AddLast(new Outgoing(bytes, correlationId));
            }

            socket = _socket;
        }

        if (buffered is null)
        {
            await SendOnSocketAsync(socket!, bytes, cancellationToken).ConfigureAwait(false);
            return;
        }

        var sent = buffered.Value.Sent.Task;
        try
        {
            await sent.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            lock (_sync)
            {
                if (buffered.List is not null)
                {
                    // Still waiting: it leaves the buffer now, with the exception its caller gets.
                    _buffer.Remove(buffered);
                    throw;
                }
            }

            // Already taken for sending: what the caller is told is what happened to that send.
            await sent.ConfigureAwait(false);
        }
    }

    private async Task SendOnSocketAsync(WebSocket socket, byte[] bytes, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            InjectFault?.Invoke("send");
            await socket.SendAsync(bytes, WebSocketMessageType.Text, true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException)
        {
            throw new OriSocketConnectionException("The connection was lost while sending.", ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Nobody knows how much of the frame went out: the connection cannot be trusted, so it goes, and the
            // client reconnects; the caller is told the message was not sent.
            socket.Abort();
            throw new OriSocketConnectionException("The send failed; the connection was dropped and the message was not sent.", ex);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task<int?> ReceiveLoopAsync(WebSocket socket)
    {
        using var heartbeat = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
        var beating = _options.HeartbeatInterval > TimeSpan.Zero ? HeartbeatAsync(socket, heartbeat.Token) : Task.CompletedTask;
        var buffer = new ArrayBufferWriter<byte>(4096);
        int? status = null;
        try
        {
            while (true)
            {
                buffer.ResetWrittenCount();
                var (type, closeStatus) = await ReceiveMessageAsync(socket, buffer, _lifetime.Token).ConfigureAwait(false);
                if (type == WebSocketMessageType.Close)
                {
                    status = closeStatus;
                    break;
                }

                InjectFault?.Invoke("receive");
                OnMessage(buffer.WrittenMemory);
            }
        }
#pragma warning disable CA1031 // Whatever ends the loop ends the connection, and the client reconnects.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (ex is not (WebSocketException or OperationCanceledException or ObjectDisposedException or OriSocketConnectionException))
            {
                socket.Abort();
                ReportError(ex);
            }

            status = (int?)socket.CloseStatus;
        }
        finally
        {
            await heartbeat.CancelAsync().ConfigureAwait(false);
            await beating.ConfigureAwait(false);
        }

        return status;
    }

    private async Task<(WebSocketMessageType Type, int? Status)> ReceiveMessageAsync(WebSocket socket, ArrayBufferWriter<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.GetMemory(4096), cancellationToken).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return (WebSocketMessageType.Close, (int?)socket.CloseStatus);
            }

            buffer.Advance(result.Count);
            if (buffer.WrittenCount > _options.MaxMessageBytes)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, "Message too big", CancellationToken.None).ConfigureAwait(false);
                throw new OriSocketConnectionException($"The server sent a message larger than {_options.MaxMessageBytes} bytes.");
            }

            if (result.EndOfMessage)
            {
                return (result.MessageType, null);
            }
        }
    }

    private async Task HeartbeatAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(_options.HeartbeatInterval, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
                var pong = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Volatile.Write(ref _pong, pong);
                InjectFault?.Invoke("heartbeat");
                await SendOnSocketAsync(socket, s_ping, cancellationToken).ConfigureAwait(false);
                try
                {
                    await pong.Task.WaitAsync(_options.HeartbeatTimeout, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // No 3: the connection is dead even if TCP has not noticed. Drop it and reconnect.
                    socket.Abort();
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or OriSocketConnectionException)
        {
        }
#pragma warning disable CA1031 // A heartbeat that stopped would leave a dead connection unnoticed: drop it instead.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            socket.Abort();
            ReportError(ex);
        }
    }

    private void OnMessage(ReadOnlyMemory<byte> message)
    {
        var span = message.Span;
        if (span.Length == 1 && span[0] == WireNames.Pong)
        {
            Volatile.Read(ref _pong)?.TrySetResult();
            return;
        }

        if (!ServerEnvelope.TryParse(message, out var envelope))
        {
            ReportError(new OriSocketErrorException("bad_message", "The server sent a message that is not an envelope.", []));
            return;
        }

        if (envelope.Name is { } name)
        {
            if (name == WireNames.Draining)
            {
                Interlocked.Exchange(ref _drainDelayMs, ReadReconnectAfter(envelope.Data));
                return;
            }

            if (name != WireNames.Ready && (envelope.Position is not { } position || Advance(envelope.Topic!, position)))
            {
                DispatchPush(name, envelope.Data);
            }

            return;
        }

        if (envelope.CorrelationId is { } correlationId)
        {
            PendingRequest? pending;
            lock (_sync)
            {
                _pending.TryGetValue(correlationId, out pending);
            }

            if (envelope.ErrorCode is { } code)
            {
                pending?.Fail(new OriSocketErrorException(code, envelope.ErrorMessage ?? code, envelope.Details));
            }
            else
            {
                pending?.Complete(envelope.Data);
            }

            return;
        }

        if (envelope.ErrorCode is { } error)
        {
            ReportError(new OriSocketErrorException(error, envelope.ErrorMessage ?? error, envelope.Details));
        }
    }

    /// <summary>
    /// Takes a push's position: false for a duplicate (at or below the last seen, same epoch); a gap or a new epoch is
    /// reported as not recovered. Runs on the receive loop, like the join replies that set positions.
    /// </summary>
    private bool Advance(string topic, SocketPosition position)
    {
        bool lost;
        lock (_sync)
        {
            if (_positions.TryGetValue(topic, out var last) && last.Epoch == position.Epoch && position.Offset <= last.Offset)
            {
                return false;
            }

            lost = last.Epoch is not null && (last.Epoch != position.Epoch || position.Offset > last.Offset + 1);
            _positions[topic] = position;
        }

        if (lost)
        {
            Report(new OriSocketRecovery(topic, false, position));
        }

        return true;
    }

    /// <summary>A join's reply on the receive loop, before the pushes that follow it: the position it reports.</summary>
    private void Joined(string room, SocketPosition? asked, bool recovered, SocketPosition latest)
    {
        lock (_sync)
        {
            if (asked is not null && recovered && _positions.TryGetValue(room, out var last) && last.Epoch == latest.Epoch)
            {
                // The missed pushes follow: the position moves as they arrive.
            }
            else
            {
                _positions[room] = latest;
            }
        }

        if (asked is not null)
        {
            Report(new OriSocketRecovery(room, recovered, recovered ? asked.Value : latest));
        }
    }

    private void Report(OriSocketRecovery recovery)
    {
        try
        {
            Recovery?.Invoke(recovery);
        }
#pragma warning disable CA1031 // The application's handler must not stop the receive loop.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ReportError(ex);
        }
    }

    private void DispatchPush(string name, ReadOnlyMemory<byte> data)
    {
        PushHandler[] handlers;
        lock (_sync)
        {
            if (!_handlers.TryGetValue(name, out var list) || list.Count == 0)
            {
                return;
            }

            handlers = [.. list];
        }

        foreach (var handler in handlers)
        {
            try
            {
                handler.Invoke(data.IsEmpty ? s_null : data);
            }
#pragma warning disable CA1031 // A handler's failure is reported, and must not stop the receive loop.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                ReportError(ex);
            }
        }
    }

    /// <summary>The client will not connect again: what waits in the send buffer fails (it was never sent).</summary>
    private void FailBuffered(Exception error)
    {
        Outgoing[] buffered;
        lock (_sync)
        {
            buffered = [.. _buffer];
            _buffer.Clear();
        }

        foreach (var outgoing in buffered)
        {
            outgoing.Sent.TrySetException(error);
        }
    }

    /// <summary>
    /// Fails the requests waiting for a reply. With <paramref name="keepBuffered"/>, a request still in the send buffer
    /// keeps waiting: it was never sent, and goes out on the next connection (or times out, and leaves the buffer).
    /// </summary>
    private void FailPending(Exception error, bool keepBuffered = false)
    {
        List<KeyValuePair<string, PendingRequest>> pending = [];
        lock (_sync)
        {
            HashSet<string>? buffered = null;
            if (keepBuffered)
            {
                foreach (var outgoing in _buffer)
                {
                    if (outgoing.CorrelationId is { } id)
                    {
                        (buffered ??= new HashSet<string>(StringComparer.Ordinal)).Add(id);
                    }
                }
            }

            pending.AddRange(buffered is null ? _pending : _pending.Where(p => !buffered.Contains(p.Key)));
            foreach (var (id, _) in pending)
            {
                _pending.Remove(id);
            }
        }

        foreach (var (_, request) in pending)
        {
            request.Fail(error);
        }
    }

    private void SetState(OriSocketClientState state, int? closeStatus, string? reason)
    {
        OriSocketClientState previous;
        lock (_sync)
        {
            previous = _state;
            if (previous == state || (previous == OriSocketClientState.Closed && state != OriSocketClientState.Closed))
            {
                return;
            }

            _state = state;
        }

        try
        {
            StateChanged?.Invoke(new OriSocketClientStateChange(previous, state, closeStatus, reason));
        }
#pragma warning disable CA1031 // The application's handler must not stop the client's loops.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ReportError(ex);
        }
    }

    /// <summary>Raises <see cref="Error"/>; a handler that throws cannot stop the loop that reports.</summary>
    private void ReportError(Exception error)
    {
        try
        {
            Error?.Invoke(error);
        }
#pragma warning disable CA1031 // Nothing is left to report the handler's own failure to.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private static bool TryReadReady(ReadOnlyMemory<byte> message, out string socketId)
    {
        socketId = string.Empty;
        return ServerEnvelope.TryParse(message, out var envelope)
            && envelope.Name == WireNames.Ready
            && ServerEnvelope.TryReadSocketId(envelope.Data.Span, out socketId);
    }

    private static byte[] Envelope<TState>(string type, string? correlationId, TState state, Action<Utf8JsonWriter, TState> writeData)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            EnvelopeWriter.WriteRequest(writer, type, correlationId, state, writeData);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private void RemoveHandler(string name, PushHandler handler)
    {
        lock (_sync)
        {
            if (_handlers.TryGetValue(name, out var list))
            {
                list.Remove(handler);
            }
        }
    }

    /// <summary>A message waiting in the send buffer; <see cref="Sent"/> completes when it was handed to an open socket.</summary>
    private sealed class Outgoing(byte[] bytes, string? correlationId)
    {
        public byte[] Bytes { get; } = bytes;

        /// <summary>The request's correlation id; null for a send that expects no reply.</summary>
        public string? CorrelationId { get; } = correlationId;

        public TaskCompletionSource Sent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class PushHandler(Action<ReadOnlyMemory<byte>> invoke)
    {
        public void Invoke(ReadOnlyMemory<byte> data) => invoke(data);
    }

    private sealed class Unsubscriber(OriSocketClient client, string name, PushHandler handler) : IDisposable
    {
        public void Dispose() => client.RemoveHandler(name, handler);
    }

    private abstract class PendingRequest
    {
        public abstract void Complete(ReadOnlyMemory<byte> data);

        public abstract void Fail(Exception error);
    }

    private sealed class PendingRequest<TReply>(SocketSerializer<TReply> serializer) : PendingRequest
    {
        private readonly TaskCompletionSource<TReply> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<TReply> Task => _completion.Task;

        public override void Complete(ReadOnlyMemory<byte> data)
        {
            var reader = new Utf8JsonReader(data.IsEmpty ? "null"u8 : data.Span);
            reader.Read();
            var validation = new SocketValidationContext("$.data");
            try
            {
                var value = serializer.Read(ref reader, validation);
                if (validation.HasErrors)
                {
                    _completion.TrySetException(new OriSocketErrorException("invalid_reply", "The reply did not match its contract.", [.. validation.Errors]));
                    return;
                }

                _completion.TrySetResult(value!);
            }
            catch (JsonException ex)
            {
                _completion.TrySetException(new OriSocketErrorException("The reply was not valid JSON.", ex));
            }
        }

        public override void Fail(Exception error) => _completion.TrySetException(error);
    }

    /// <summary>
    /// The reply of <c>room.join</c>: read on the receive loop, so that the position it reports is taken before the
    /// missed pushes that follow it. Its value: whether the room keeps a history.
    /// </summary>
    private sealed class JoinReply(OriSocketClient client, string room, SocketPosition? asked) : SocketSerializer<bool>
    {
        public override void Write(Utf8JsonWriter writer, bool value) => writer.WriteNullValue();

        public override bool Read(ref Utf8JsonReader reader, SocketValidationContext validation)
        {
            bool? recovered = null;
            string? epoch = null;
            long? offset = null;
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                switch (name)
                {
                    case "recovered" when reader.TokenType is JsonTokenType.True or JsonTokenType.False:
                        recovered = reader.GetBoolean();
                        break;
                    case "epoch" when reader.TokenType == JsonTokenType.String:
                        epoch = reader.GetString();
                        break;
                    case "offset" when reader.TokenType == JsonTokenType.Number:
                        offset = reader.GetInt64();
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }

            if (recovered is not { } wasRecovered || epoch is null || offset is not { } latest)
            {
                return false;
            }

            client.Joined(room, asked, wasRecovered, new SocketPosition(epoch, latest));
            return true;
        }
    }

    /// <summary>The reply of a room request or any reply whose data is not read.</summary>
    private sealed class NullSerializer : SocketSerializer<object?>
    {
        public static readonly NullSerializer Instance = new();

        public override void Write(Utf8JsonWriter writer, object? value) => writer.WriteNullValue();

        public override object? Read(ref Utf8JsonReader reader, SocketValidationContext validation)
        {
            reader.Skip();
            return null;
        }
    }
}

using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Ori.Sockets.Protocol;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets.Connections;

/// <summary>The limits one connection works within.</summary>
/// <param name="ReceiveLimit">The largest message, reassembled, in bytes.</param>
/// <param name="OutboundQueueLimit">The most bytes that may wait to be written.</param>
/// <param name="CloseTimeout">How long the close handshake (and the last writes) may take before the transport is cut.</param>
internal sealed record ConnectionLimits(int ReceiveLimit, long OutboundQueueLimit, TimeSpan CloseTimeout);

/// <summary>
/// One WebSocket connection's transport side: the receive loop (frames read by a <see cref="FrameReader"/>,
/// complete messages handed to an <see cref="IInboundHandler"/> in order), the <see cref="OutboundQueue"/>,
/// the close handshake and its time limit, and the last-activity stamp. It knows nothing of routing,
/// topics or hosting.
/// </summary>
internal sealed class SocketConnection : IOutboundSocket, IDisposable
{
    /// <summary>The most messages read ahead while a handler of the connection runs.</summary>
    public const int MaxHeldMessages = 32;

    private readonly PipeReader _reader;
    private readonly ConnectionLimits _limits;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Action _abortTransport;
    private readonly Action<string> _closeStarted;
    private readonly OutboundQueue _outbound;
    private readonly CancellationTokenSource _closing = new();
    private readonly Lock _deadlineLock = new();
    private CancellationTokenSource? _closeDeadline;
    private bool _ended;
    private bool _ready;
    private long _lastActivity;
    private long _messageStartedAt;

    /// <param name="id">The socket's id.</param>
    /// <param name="stream">The upgraded transport.</param>
    /// <param name="limits">Receive and send bounds, close time-out.</param>
    /// <param name="time">The clock for activity stamps and time limits.</param>
    /// <param name="logger">Where protocol faults and closes are logged.</param>
    /// <param name="abortTransport">Tears the transport down (the peer vanished or overstayed its close).</param>
    /// <param name="closeStarted">Told the socket's id, synchronously, when a close starts.</param>
    /// <param name="budget">The process-wide outbound budget its queue counts against, or null.</param>
    public SocketConnection(string id, Stream stream, ConnectionLimits limits, TimeProvider time, ILogger logger, Action abortTransport, Action<string> closeStarted, OutboundBudget? budget = null)
        : this(id, ReaderOf(stream), stream, limits, time, logger, abortTransport, closeStarted, budget)
    {
    }

    /// <param name="id">The socket's id.</param>
    /// <param name="input">Where frames are read from (it must not hold a buffer while no data waits).</param>
    /// <param name="output">Where frames are written.</param>
    /// <param name="limits">Receive and send bounds, close time-out.</param>
    /// <param name="time">The clock for activity stamps and time limits.</param>
    /// <param name="logger">Where protocol faults and closes are logged.</param>
    /// <param name="abortTransport">Tears the transport down (the peer vanished or overstayed its close).</param>
    /// <param name="closeStarted">Told the socket's id, synchronously, when a close starts.</param>
    /// <param name="budget">The process-wide outbound budget its queue counts against, or null.</param>
    public SocketConnection(string id, PipeReader input, Stream output, ConnectionLimits limits, TimeProvider time, ILogger logger, Action abortTransport, Action<string> closeStarted, OutboundBudget? budget = null)
        : this(id, input, limits, time, logger, abortTransport, closeStarted)
    {
        _outbound = new OutboundQueue(output, limits.OutboundQueueLimit, Abort, budget);
    }

    /// <param name="id">The socket's id.</param>
    /// <param name="input">The transport's input pipe.</param>
    /// <param name="output">The transport's output pipe: frames are written straight into it.</param>
    /// <param name="limits">Receive and send bounds, close time-out.</param>
    /// <param name="time">The clock for activity stamps and time limits.</param>
    /// <param name="logger">Where protocol faults and closes are logged.</param>
    /// <param name="abortTransport">Tears the transport down (the peer vanished or overstayed its close).</param>
    /// <param name="closeStarted">Told the socket's id, synchronously, when a close starts.</param>
    /// <param name="budget">The process-wide outbound budget its queue counts against, or null.</param>
    public SocketConnection(string id, PipeReader input, PipeWriter output, ConnectionLimits limits, TimeProvider time, ILogger logger, Action abortTransport, Action<string> closeStarted, OutboundBudget? budget = null)
        : this(id, input, limits, time, logger, abortTransport, closeStarted)
    {
        _outbound = new OutboundQueue(output, limits.OutboundQueueLimit, Abort, budget);
    }

    private SocketConnection(string id, PipeReader input, ConnectionLimits limits, TimeProvider time, ILogger logger, Action abortTransport, Action<string> closeStarted)
    {
        Id = id;
        _reader = input;
        _limits = limits;
        _time = time;
        _logger = logger;
        _abortTransport = abortTransport;
        _closeStarted = closeStarted;
        _outbound = null!;
        Touch();
    }

    /// <summary>A reader over an upgraded stream. Zero-byte reads: an idle connection holds no receive buffer.</summary>
    internal static PipeReader ReaderOf(Stream stream) =>
        PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 1024, leaveOpen: true, useZeroByteReads: true));

    /// <inheritdoc />
    public string Id { get; }

    /// <summary>Canceled when the connection starts closing (or is aborted): its work should stop.</summary>
    public CancellationToken Closing => _closing.Token;

    /// <summary>Whether <c>ori.ready</c> has been queued: from then on pushes may follow it.</summary>
    public bool IsReady => Volatile.Read(ref _ready);

    /// <summary>Whether a close has started.</summary>
    public bool IsClosing => _outbound.IsClosing;

    /// <summary>When a frame last arrived, as a <see cref="TimeProvider"/> timestamp.</summary>
    public long LastActivity => Volatile.Read(ref _lastActivity);

    /// <summary>When the first fragment of the message being reassembled arrived (a timestamp), or 0 when none is.</summary>
    public long MessageStartedAt => Volatile.Read(ref _messageStartedAt);

    /// <summary>The outbound queue, for tests and the writer's own use.</summary>
    internal OutboundQueue Outbound => _outbound;

    /// <inheritdoc />
    public bool TryEnqueue(SocketFrame frame)
    {
        switch (_outbound.TryEnqueue(frame))
        {
            case EnqueueResult.Queued:
                return true;
            case EnqueueResult.Overflowed:
                SocketLog.SlowConsumer(_logger, Id, _limits.OutboundQueueLimit);
                OnCloseStarted(SocketCloseCodes.SlowConsumer);
                return false;
            default:
                return false;
        }
    }

    /// <summary>
    /// Queues <c>ori.ready</c>, marks the socket ready (<see cref="IsReady"/>) before it can be written, and writes it on
    /// this thread (the writer's turn taken here, not handed to the thread pool). Marked in between: whatever the drain
    /// queues once it sees the mark follows <c>ori.ready</c>, and a client that has read <c>ori.ready</c> is always seen
    /// as ready (marked after the write, a shutdown the client started on reading it could close the socket as one still
    /// in its guards, with no <c>ori.draining</c>). Completes when the write was handed to the transport, or at once
    /// when the transport pushes back (the writer then finishes on its own).
    /// </summary>
    public ValueTask SendReadyAsync(SocketFrame ready)
    {
        _outbound.BeginDeferring();
        try
        {
            TryEnqueue(ready);
            Volatile.Write(ref _ready, true);
        }
        finally
        {
            OutboundQueue.EndDeferring();
        }

        return _outbound.FlushDeferredAsync(inline: true);
    }

    /// <summary>
    /// Closes the socket as a slow consumer (4008), dropping what waits for it: the process-wide outbound budget is
    /// spent and this socket holds the most.
    /// </summary>
    public void Shed()
    {
        var queued = _outbound.QueuedBytes;
        if (_outbound.TryClose(SocketCloseCodes.SlowConsumer, "Slow consumer", dropQueued: true))
        {
            SocketLog.SlowConsumer(_logger, Id, queued);
            OnCloseStarted(SocketCloseCodes.SlowConsumer);
        }
    }

    /// <inheritdoc />
    public void Close(int code, string reason)
    {
        if (_outbound.TryClose(code, reason, dropQueued: false))
        {
            OnCloseStarted(code);
        }
    }

    /// <summary>Cuts the transport at once: no close handshake.</summary>
    public void Abort()
    {
        Cancel();
        try
        {
            _abortTransport();
        }
#pragma warning disable CA1031 // Aborting an already torn-down transport may throw; it is gone either way.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>
    /// Reads frames until the connection ends: messages go to <paramref name="handler"/> one at a time, in
    /// order; pings are answered; a close frame is answered and ends the loop; a protocol fault closes with
    /// its code and ends it. While a handler runs the socket is still read: a message that needs no turn (the
    /// heartbeat) is answered at once, a close is answered at once, and other messages wait their turn, up to
    /// <see cref="MaxHeldMessages"/> of them or the receive limit in bytes; past that nothing more is read
    /// until the handler is done.
    /// </summary>
    public async Task ReceiveAsync(IInboundHandler handler)
    {
        using var frames = new FrameReader(_limits.ReceiveLimit);
        var turns = new Turns(handler, _limits.ReceiveLimit, this);
        Task<ReadResult>? reading = null;
        try
        {
            while (true)
            {
                if (turns.IsBusy)
                {
                    if (turns.IsFull)
                    {
                        await turns.NextAsync().ConfigureAwait(false);
                        continue;
                    }

                    // Read on while the handler runs; when it finishes first, the next message takes its turn.
                    reading ??= _reader.ReadAsync().AsTask();
                    if (await Task.WhenAny(reading, turns.Pending).ConfigureAwait(false) != reading)
                    {
                        await turns.NextAsync().ConfigureAwait(false);
                        continue;
                    }
                }

                ReadResult result;
                try
                {
                    result = reading is not null ? await reading.ConfigureAwait(false) : await _reader.ReadAsync().ConfigureAwait(false);
                }
#pragma warning disable CA1031 // A reset or aborted transport ends the loop like a clean end of stream.
                catch (Exception)
#pragma warning restore CA1031
                {
                    return;
                }
                finally
                {
                    reading = null;
                }

                var buffer = result.Buffer;
                var done = false;
                var full = false;
                _outbound.BeginDeferring();
                try
                {
                    while (!done && !full)
                    {
                        var frame = ReadFrame(frames, ref buffer, out var value);
                        if (frame == FrameEvent.NeedMore)
                        {
                            break;
                        }

                        Touch();
                        switch (frame)
                        {
                            case FrameEvent.Fragment:
                                if (Volatile.Read(ref _messageStartedAt) == 0)
                                {
                                    Volatile.Write(ref _messageStartedAt, _time.GetTimestamp());
                                }

                                break;
                            case FrameEvent.Message:
                                Volatile.Write(ref _messageStartedAt, 0);
                                full = turns.Take(frames);

                                // What the message sent other sockets goes out before the next message is handled.
                                OutboundQueue.WriteCorked();
                                break;
                            case FrameEvent.Close:
                                // The peer's answer to our close completes the handshake; otherwise answer it.
                                Close(value, string.Empty);
                                done = true;
                                break;
                            case FrameEvent.Fault:
                                Fail(value);
                                done = true;
                                break;
                        }
                    }

                    if (result.IsCompleted || result.IsCanceled)
                    {
                        done = true;
                    }
                }
                finally
                {
                    OutboundQueue.EndDeferring();

                    // Stopped because enough messages wait: what is left in the buffer is read again after their turn.
                    _reader.AdvanceTo(buffer.Start, full && !done ? buffer.Start : buffer.End);
                }

                await _outbound.FlushDeferredAsync(inline: !done).ConfigureAwait(false);
                if (done)
                {
                    return;
                }
            }
        }
        finally
        {
            // A handler still running finishes (the connection's Closing token tells it to) before the connection
            // ends; messages still waiting are dropped with the connection.
            await turns.EndAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Ends the connection after its receive loop: no new close may start, what is queued (the close frame
    /// above all) is written within the close time-out or the transport is cut, and the reader is completed.
    /// </summary>
    public async Task EndAsync()
    {
        Cancel();
        if (!await _outbound.FinishAsync(_limits.CloseTimeout, _time).ConfigureAwait(false))
        {
            Abort();
        }

        await _reader.CompleteAsync().ConfigureAwait(false);
        lock (_deadlineLock)
        {
            // Ended: the abort deadline must not fire on a finished request.
            _ended = true;
            _closeDeadline?.Dispose();
            _closeDeadline = null;
        }
    }

    /// <summary>Cancels <see cref="Closing"/> without a close handshake: the receive loop has ended and the connection's work is over.</summary>
    public void StopWork() => Cancel();

    /// <inheritdoc />
    public void Dispose() => _closing.Dispose();

    /// <summary>Reads one frame; a ping is answered here, from a stack buffer (an idle connection keeps none).</summary>
    private FrameEvent ReadFrame(FrameReader frames, ref ReadOnlySequence<byte> buffer, out int value)
    {
        Span<byte> control = stackalloc byte[FrameReader.MaxControlPayload];
        var frame = frames.Read(ref buffer, control, out value);
        if (frame == FrameEvent.Ping)
        {
            TryEnqueue(SocketFrame.Create(Opcode.Pong, control[..value]));
        }

        return frame;
    }

    private void Touch() => Volatile.Write(ref _lastActivity, _time.GetTimestamp());

    private void Fail(int code)
    {
        var reason = code switch
        {
            SocketCloseCodes.UnsupportedData => "Binary frames are not supported",
            SocketCloseCodes.MessageTooBig => "Message too big",
            SocketCloseCodes.InvalidPayload => "Invalid UTF-8",
            _ => "Protocol error",
        };
        SocketLog.ProtocolViolation(_logger, Id, code);

        // The stream can no longer be parsed: send the close frame and stop reading.
        Close(code, reason);
    }

    /// <summary>The close code of the handshake this connection began or answered; null when it ended without one.</summary>
    public int? CloseCode { get; private set; }

    private void OnCloseStarted(int code)
    {
        CloseCode ??= code;
        SocketLog.Closing(_logger, Id, code);
        _closeStarted(Id);
        lock (_deadlineLock)
        {
            if (!_ended && _closeDeadline is null)
            {
                // A peer that never completes the handshake (or never reads) is cut off after the close time-out.
                _closeDeadline = new CancellationTokenSource(_limits.CloseTimeout, _time);
                _closeDeadline.Token.UnsafeRegister(static state => ((SocketConnection)state!).Abort(), this);
            }
        }

        Cancel();
    }

    private void Cancel()
    {
        try
        {
            _closing.Cancel();
        }
        catch (AggregateException)
        {
            // A callback on Closing threw; the connection is closing regardless.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// The message being handled (with its buffer) and the messages read behind it, waiting their turn. Used by the
    /// receive loop only: one message is handled at a time, in the order they came.
    /// </summary>
    private sealed class Turns(IInboundHandler handler, int byteLimit, SocketConnection connection)
    {
        private Queue<(byte[] Buffer, int Length)>? _held;
        private long _heldBytes;
        private Task? _pending;
        private byte[]? _pendingBuffer;

        /// <summary>Whether a handler is running.</summary>
        public bool IsBusy => _pending is not null;

        /// <summary>The running handler.</summary>
        public Task Pending => _pending!;

        /// <summary>Whether as many messages wait as may: read nothing more until the handler is done.</summary>
        public bool IsFull => _held is { Count: > 0 } held && (held.Count >= MaxHeldMessages || _heldBytes >= byteLimit);

        /// <summary>
        /// Takes the message the reader just completed: handled now when no handler runs (the buffer stays with the
        /// reader when it completes at once), answered out of turn, or held. Returns whether the wait line is full.
        /// </summary>
        public bool Take(FrameReader frames)
        {
            if (connection.IsClosing)
            {
                // Closing: messages that were already on their way are dropped, not handled.
                frames.ReleaseMessage();
                return false;
            }

            var message = frames.Message;
            if (_pending is null)
            {
                var handled = handler.OnMessageAsync(message);
                if (handled.IsCompletedSuccessfully)
                {
                    // An idle connection keeps no message buffer.
                    frames.ReleaseMessage();
                }
                else
                {
                    _pending = handled.AsTask();
                    _pendingBuffer = frames.DetachMessage();
                }

                return false;
            }

            if (handler.TryAnswerOutOfTurn(message.Span))
            {
                frames.ReleaseMessage();
                return false;
            }

            (_held ??= new Queue<(byte[], int)>()).Enqueue((frames.DetachMessage(), message.Length));
            _heldBytes += message.Length;
            return IsFull;
        }

        /// <summary>Waits for the running handler, then hands the waiting messages over in order until one runs on.</summary>
        public async Task NextAsync()
        {
            await FinishPendingAsync().ConfigureAwait(false);
            while (_held is not null && _held.TryDequeue(out var next))
            {
                _heldBytes -= next.Length;
                if (connection.IsClosing)
                {
                    ArrayPool<byte>.Shared.Return(next.Buffer);
                    continue;
                }

                var handled = handler.OnMessageAsync(next.Buffer.AsMemory(0, next.Length));
                if (!handled.IsCompletedSuccessfully)
                {
                    _pending = handled.AsTask();
                    _pendingBuffer = next.Buffer;
                    return;
                }

                ArrayPool<byte>.Shared.Return(next.Buffer);
            }
        }

        /// <summary>The receive loop has ended: the running handler finishes, the waiting messages are dropped.</summary>
        public async Task EndAsync()
        {
            await FinishPendingAsync().ConfigureAwait(false);
            while (_held is not null && _held.TryDequeue(out var next))
            {
                ArrayPool<byte>.Shared.Return(next.Buffer);
            }

            _heldBytes = 0;
        }

        private async Task FinishPendingAsync()
        {
            if (_pending is null)
            {
                return;
            }

            try
            {
                await _pending.ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The pipeline answers a handler's failure itself; nothing it lets through may end the loop.
            catch (Exception)
#pragma warning restore CA1031
            {
            }

            _pending = null;
            ArrayPool<byte>.Shared.Return(_pendingBuffer!);
            _pendingBuffer = null;
        }
    }
}

using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Hosting;
using Ori.Sockets.Protocol;
using Ori.Sockets.Routing;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets.Connections;

/// <summary>
/// One WebSocket connection: the RFC 6455 receive loop, the bounded outbound queue and its writer,
/// and the close handshake. Frames of one connection are handled one at a time, in order.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "RunAsync owns the connection's whole life and disposes the deadline as it ends.")]
internal sealed class SocketConnection : IThreadPoolWorkItem
{
    // A write gathers queued frames up to this size into one transport write (one syscall).
    private const int WriteBatchSize = 16 * 1024;

    private readonly SocketRuntime _runtime;
    private readonly Stream _stream;
    private readonly PipeReader _reader;
    private readonly Lock _sync = new();
    private readonly TaskCompletionSource _writerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Outbound state, guarded by _sync.
    private Queue<SocketFrame>? _queue;
    private long _queuedBytes;
    private bool _writerScheduled;
    private bool _closeQueued;
    private bool _writerStopped;

    // Subscriptions, guarded by _topicsLock.
    private readonly Lock _topicsLock = new();
    private HashSet<string>? _topics;
    private bool _topicsReleased;

    // Receive state, touched only by the receive loop.
    private byte[]? _message;
    private int _messageLength;
    private bool _inFragmentedMessage;

    private CancellationTokenSource? _closeDeadline;
    private long _lastActivity;

    public SocketConnection(SocketRuntime runtime, string id, HttpContext httpContext, Stream stream, object? upgradeData)
    {
        _runtime = runtime;
        Id = id;
        _stream = stream;
        // Zero-byte reads: an idle connection holds no receive buffer.
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 1024, leaveOpen: true, useZeroByteReads: true));
        Context = new SocketContext(id, httpContext, upgradeData, runtime.Provider, runtime.Emitter);
        Invocation = new SocketInvocation(this);
        Touch();
    }

    public string Id { get; }

    public SocketContext Context { get; }

    public SocketInvocation Invocation { get; }

    public SocketRuntime Runtime => _runtime;

    /// <summary>The connection's message guards, resolved once when its guards pass.</summary>
    public IMessageGuard[] MessageGuards { get; private set; } = [];

    private ISocketConnectionHandler[] _handlers = [];

    // The connection whose receive loop runs synchronously on this thread: what it enqueues (replies)
    // is written when the batch of frames it read is handled, on the same thread, in one write.
#pragma warning disable IDE1006 // t_ marks a thread static, as in the .NET runtime.
    [ThreadStatic]
    private static SocketConnection? t_receiving;
#pragma warning restore IDE1006

    private bool _flushDeferred;

    public long LastActivity => Volatile.Read(ref _lastActivity);

    public bool IsClosing
    {
        get
        {
            lock (_sync)
            {
                return _closeQueued;
            }
        }
    }

    /// <summary>Runs the connection until it closes: guards, <c>ori.ready</c>, then the receive loop.</summary>
    public async Task RunAsync()
    {
        _runtime.Track(this);
        var joinedHub = false;
        try
        {
            var verdict = await RunGuardsAsync().ConfigureAwait(false);
            if (verdict == GuardVerdict.Passed)
            {
                MessageGuards = [.. Context.Services.GetServices<IMessageGuard>()];

                // ori.ready is queued before the socket joins the hub so that it is the first frame out.
                TryEnqueue(EnvelopeFrames.Ready(Id, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
                _runtime.Hub.Add(this);
                joinedHub = true;
                if (IsClosing)
                {
                    // Closed while its guards ran (shutdown, say): it must not stay in the hub.
                    _runtime.Hub.Remove(this);
                }

                SocketLog.Connected(_runtime.Logger, Id);
                _handlers = [.. Context.Services.GetServices<ISocketConnectionHandler>()];
                foreach (var handler in _handlers)
                {
                    if (!await TryRunHandlerAsync(handler, connected: true).ConfigureAwait(false))
                    {
                        Close(SocketCloseCodes.InternalError, "Connection handler failed");
                        break;
                    }
                }
            }
            else
            {
                var (code, reason) = verdict == GuardVerdict.Refused
                    ? (SocketCloseCodes.PolicyViolation, "Connection rejected by guard")
                    : (SocketCloseCodes.InternalError, "Connection guard failed");
                Close(code, reason);
            }

            await ReceiveLoopAsync().ConfigureAwait(false);
        }
        finally
        {
            Context.Abort();
            if (joinedHub)
            {
                _runtime.Hub.Remove(this);
                try
                {
                    await _runtime.Provider.ReleaseAsync(Id).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // A provider failure must not keep the connection from ending.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    SocketLog.ProviderReleaseFailed(_runtime.Logger, Id, ex);
                }

                _runtime.Hub.Forget(this);
                foreach (var handler in _handlers)
                {
                    await TryRunHandlerAsync(handler, connected: false).ConfigureAwait(false);
                }
            }

            await FinishWritesAsync().ConfigureAwait(false);
            ReturnMessageBuffer();
            await _reader.CompleteAsync().ConfigureAwait(false);
            lock (_sync)
            {
                // Ended: no close may start now, and the abort deadline must not fire on a finished request.
                _closeQueued = true;
                _closeDeadline?.Dispose();
                _closeDeadline = null;
            }

            Context.DisposeResources();
            _runtime.Untrack(this);
            SocketLog.Disconnected(_runtime.Logger, Id);
        }
    }

    private async ValueTask<bool> TryRunHandlerAsync(ISocketConnectionHandler handler, bool connected)
    {
        try
        {
            if (connected)
            {
                await handler.OnConnectedAsync(Context).ConfigureAwait(false);
            }
            else
            {
                await handler.OnDisconnectedAsync(Context).ConfigureAwait(false);
            }

            return true;
        }
#pragma warning disable CA1031 // User code: its failure is logged and must not tear down the server.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            SocketLog.ConnectionHandlerFailed(_runtime.Logger, Id, handler.GetType().Name, ex);
            return false;
        }
    }

    /// <summary>Starts the close handshake. Frames queued before it are still sent; nothing after it is.</summary>
    public void Close(int code, string reason) => Close(code, reason, dropQueued: false);

    /// <summary>Queues a frame for the writer. Returns false when the socket is closing.</summary>
    public bool TryEnqueue(SocketFrame frame)
    {
        var schedule = false;
        var accepted = false;
        var closeStarted = false;
        lock (_sync)
        {
            if (_closeQueued)
            {
                return false;
            }

            if (_queuedBytes + frame.Length > _runtime.Options.OutboundQueueLimit)
            {
                // Slow consumer: drop what it has not read rather than grow, and close it.
                SocketLog.SlowConsumer(_runtime.Logger, Id, _queuedBytes);
                closeStarted = CloseLocked(SocketCloseCodes.SlowConsumer, "Slow consumer", dropQueued: true, ref schedule);
            }
            else
            {
                (_queue ??= new Queue<SocketFrame>()).Enqueue(frame);
                _queuedBytes += frame.Length;
                if (t_receiving == this && !_writerScheduled && !_writerStopped)
                {
                    // Written by the receive loop at the end of its batch: no thread hop per reply.
                    _flushDeferred = true;
                }
                else
                {
                    schedule = ScheduleLocked();
                }

                accepted = true;
            }
        }

        if (schedule)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        if (closeStarted)
        {
            OnCloseStarted();
        }

        return accepted;
    }

    /// <summary>Adds a topic to this socket's own list; false when already there or released.</summary>
    public bool TryTrackTopic(string topic)
    {
        lock (_topicsLock)
        {
            return !_topicsReleased && (_topics ??= new HashSet<string>(StringComparer.Ordinal)).Add(topic);
        }
    }

    public bool TryUntrackTopic(string topic)
    {
        lock (_topicsLock)
        {
            return _topics is not null && _topics.Remove(topic);
        }
    }

    /// <summary>Takes the list of subscribed topics for good: later subscriptions are refused.</summary>
    public string[] ReleaseTopics()
    {
        lock (_topicsLock)
        {
            _topicsReleased = true;
            var topics = _topics is null ? [] : _topics.ToArray();
            _topics = null;
            return topics;
        }
    }

    public void Abort()
    {
        Context.Abort();
        try
        {
            Context.HttpContext.Abort();
        }
#pragma warning disable CA1031 // Aborting an already torn-down connection may throw; it is gone either way.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    void IThreadPoolWorkItem.Execute() => _ = DrainAsync();

    private void Touch() => Volatile.Write(ref _lastActivity, Environment.TickCount64);

    private void Close(int code, string reason, bool dropQueued)
    {
        var schedule = false;
        bool started;
        lock (_sync)
        {
            started = CloseLocked(code, reason, dropQueued, ref schedule);
        }

        if (schedule)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        if (started)
        {
            OnCloseStarted();
        }
    }

    private bool CloseLocked(int code, string reason, bool dropQueued, ref bool schedule)
    {
        if (_closeQueued)
        {
            return false;
        }

        _closeQueued = true;
        if (dropQueued && _queue is not null)
        {
            _queue.Clear();
            _queuedBytes = 0;
        }

        (_queue ??= new Queue<SocketFrame>()).Enqueue(SocketFrame.Close(code, reason));
        schedule = ScheduleLocked();
        Context.Abort();
        SocketLog.Closing(_runtime.Logger, Id, code);

        // A peer that never completes the handshake (or never reads) is cut off after the close time-out.
        _closeDeadline = new CancellationTokenSource(_runtime.Options.CloseTimeout);
        _closeDeadline.Token.UnsafeRegister(static state => ((SocketConnection)state!).Abort(), this);
        return true;
    }

    /// <summary>A closing socket is no longer connected: it leaves the broadcast set and direct sends at once.</summary>
    private void OnCloseStarted() => _runtime.Hub.Remove(this);

    /// <summary>Writes what the receive loop's batch queued: on this thread when it goes on reading, else by the writer.</summary>
    private async ValueTask FlushDeferredAsync(bool inline)
    {
        bool run;
        lock (_sync)
        {
            if (!_flushDeferred)
            {
                return;
            }

            _flushDeferred = false;
            run = ScheduleLocked();
        }

        if (!run)
        {
            return;
        }

        if (inline)
        {
            await DrainAsync().ConfigureAwait(false);
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    private bool ScheduleLocked()
    {
        if (_writerScheduled || _writerStopped)
        {
            return false;
        }

        _writerScheduled = true;
        return true;
    }

    /// <summary>
    /// Makes one write of what is queued (frames coalesced up to <see cref="WriteBatchSize"/>), then hands the
    /// rest to the thread pool instead of looping: under fan-out every socket's writer gets a turn before any
    /// writes twice, so the transport sends each batch before the next is added (its buffers are reused
    /// instead of growing by the whole backlog of every socket) and early messages reach every subscriber first.
    /// </summary>
    private async Task DrainAsync()
    {
        byte[]? batch = null;
        try
        {
            SocketFrame? single = null;
            var length = 0;
            var sentClose = false;
            lock (_sync)
            {
                if (_queue is null || _queue.Count == 0)
                {
                    _writerScheduled = false;
                    return;
                }

                // Coalesce: frames that fit go into one buffer and one write; a large frame goes alone.
                while (_queue.TryPeek(out var frame))
                {
                    if (length == 0 && frame.Length > WriteBatchSize)
                    {
                        single = _queue.Dequeue();
                        _queuedBytes -= frame.Length;
                        sentClose = IsCloseFrame(frame);
                        break;
                    }

                    if (length + frame.Length > WriteBatchSize)
                    {
                        break;
                    }

                    batch ??= ArrayPool<byte>.Shared.Rent(WriteBatchSize);
                    frame.Buffer.CopyTo(batch, length);
                    length += frame.Length;
                    _queue.Dequeue();
                    _queuedBytes -= frame.Length;
                    if (IsCloseFrame(frame))
                    {
                        sentClose = true;
                        _queue.Clear();
                        _queuedBytes = 0;
                        break;
                    }
                }
            }

            if (single is not null)
            {
                await _stream.WriteAsync(single.Buffer).ConfigureAwait(false);
            }
            else
            {
                await _stream.WriteAsync(batch.AsMemory(0, length)).ConfigureAwait(false);
            }

            if (sentClose)
            {
                // Nothing goes out after a close frame (RFC 6455 5.5.1).
                StopWriter();
                return;
            }

            lock (_sync)
            {
                if (_queue.Count == 0)
                {
                    _writerScheduled = false;
                    return;
                }
            }

            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
#pragma warning disable CA1031 // The transport failed (peer gone, aborted): the writer stops, the receive loop ends the connection.
        catch (Exception)
#pragma warning restore CA1031
        {
            StopWriter();
            Abort();
        }
        finally
        {
            if (batch is not null)
            {
                ArrayPool<byte>.Shared.Return(batch);
            }
        }
    }

    private void StopWriter()
    {
        lock (_sync)
        {
            _writerStopped = true;
            _writerScheduled = false;
            _closeQueued = true;
            _queue?.Clear();
            _queuedBytes = 0;
        }

        _writerDone.TrySetResult();
    }

    private static bool IsCloseFrame(SocketFrame frame) => (frame.Buffer[0] & 0x0F) == (byte)Opcode.Close;

    private async Task FinishWritesAsync()
    {
        bool idle;
        lock (_sync)
        {
            idle = !_writerScheduled;
            if (idle)
            {
                _writerStopped = true;
            }
        }

        if (!idle)
        {
            // Let the writer send what is queued (the close frame above all), within the close time-out.
            try
            {
                await _writerDone.Task.WaitAsync(_runtime.Options.CloseTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                Abort();
            }
        }
    }

    private async Task<GuardVerdict> RunGuardsAsync()
    {
        // Guards are created in the connection's scope, in the order they were added.
        var guards = Context.Services.GetServices<IConnectionGuard>().ToArray();
        if (guards.Length == 0)
        {
            return GuardVerdict.Passed;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Context.Aborted);
        timeout.CancelAfter(_runtime.Options.GuardTimeout);
        var guardContext = new ConnectionGuardContext(Context, timeout.Token);
        foreach (var guard in guards)
        {
            try
            {
                var allowed = await guard.CanConnectAsync(guardContext).AsTask().WaitAsync(timeout.Token).ConfigureAwait(false);
                if (!allowed)
                {
                    SocketLog.GuardRefused(_runtime.Logger, Id, guard.GetType().Name);
                    return GuardVerdict.Refused;
                }
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                SocketLog.GuardTimedOut(_runtime.Logger, Id);
                return GuardVerdict.Failed;
            }
#pragma warning disable CA1031 // A guard that throws fails the connection with 1011; the exception is logged, never sent.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                SocketLog.GuardFailed(_runtime.Logger, Id, ex);
                return GuardVerdict.Failed;
            }
        }

        return GuardVerdict.Passed;
    }

    private async Task ReceiveLoopAsync()
    {
        while (true)
        {
            ReadResult result;
            try
            {
                result = await _reader.ReadAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A reset or aborted transport ends the loop like a clean end of stream.
            catch (Exception)
#pragma warning restore CA1031
            {
                return;
            }

            var buffer = result.Buffer;
            var done = false;
            t_receiving = this;
            try
            {
                while (!done && FrameHeader.TryRead(buffer, out var header))
                {
                    var failure = Check(header);
                    if (failure != 0)
                    {
                        FailConnection(failure);
                        return;
                    }

                    var frameLength = header.HeaderLength + header.PayloadLength;
                    if (buffer.Length < frameLength)
                    {
                        break;
                    }

                    Touch();
                    var payload = buffer.Slice(header.HeaderLength, header.PayloadLength);
                    if (header.IsControl)
                    {
                        done = HandleControlFrame(header, payload);
                    }
                    else
                    {
                        AppendToMessage(payload, header);
                        if (header.Fin)
                        {
                            _inFragmentedMessage = false;
                            var completion = CompleteMessageAsync();
                            if (completion.IsCompletedSuccessfully)
                            {
                                done = completion.Result;
                            }
                            else
                            {
                                // The handler went asynchronous: this thread runs other work meanwhile.
                                t_receiving = null;
                                done = await completion.ConfigureAwait(false);
                                t_receiving = this;
                            }
                        }
                        else
                        {
                            _inFragmentedMessage = true;
                        }
                    }

                    buffer = buffer.Slice(frameLength);
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    done = true;
                }
            }
            finally
            {
                t_receiving = null;
                _reader.AdvanceTo(buffer.Start, buffer.End);
            }

            await FlushDeferredAsync(inline: !done).ConfigureAwait(false);
            if (done)
            {
                return;
            }
        }
    }

    /// <summary>Checks a client frame header; returns the close code that fails the connection, or 0.</summary>
    private int Check(in FrameHeader header)
    {
        if (header.Rsv != 0 || !header.Masked)
        {
            return SocketCloseCodes.ProtocolError;
        }

        switch (header.Opcode)
        {
            case Opcode.Binary:
                return SocketCloseCodes.UnsupportedData;
            case Opcode.Text:
                return _inFragmentedMessage ? SocketCloseCodes.ProtocolError : CheckSize(header);
            case Opcode.Continuation:
                return _inFragmentedMessage ? CheckSize(header) : SocketCloseCodes.ProtocolError;
            case Opcode.Close or Opcode.Ping or Opcode.Pong:
                return header.Fin && header.PayloadLength <= 125 ? 0 : SocketCloseCodes.ProtocolError;
            default:
                return SocketCloseCodes.ProtocolError;
        }
    }

    private int CheckSize(in FrameHeader header) =>
        _messageLength + header.PayloadLength > _runtime.Options.ReceiveLimit ? SocketCloseCodes.MessageTooBig : 0;

    private void FailConnection(int code)
    {
        var reason = code switch
        {
            SocketCloseCodes.UnsupportedData => "Binary frames are not supported",
            SocketCloseCodes.MessageTooBig => "Message too big",
            SocketCloseCodes.InvalidPayload => "Invalid UTF-8",
            _ => "Protocol error",
        };
        SocketLog.ProtocolViolation(_runtime.Logger, Id, code);

        // The stream can no longer be parsed: send the close frame and stop reading.
        Close(code, reason);
    }

    private bool HandleControlFrame(in FrameHeader header, in ReadOnlySequence<byte> payload)
    {
        Span<byte> bytes = stackalloc byte[125];
        var length = (int)header.PayloadLength;
        Masking.CopyUnmasked(payload, bytes, header.Mask, 0);
        switch (header.Opcode)
        {
            case Opcode.Ping:
                TryEnqueue(SocketFrame.Create(Opcode.Pong, bytes[..length]));
                return false;
            case Opcode.Pong:
                return false;
            default:
                if (IsClosing)
                {
                    // The answer to our close frame: the handshake is complete once ours is written.
                    return true;
                }

                var code = ReadCloseCode(bytes[..length]);
                Close(code, string.Empty);
                return true;
        }
    }

    private static int ReadCloseCode(ReadOnlySpan<byte> payload)
    {
        if (payload.Length == 0)
        {
            return SocketCloseCodes.Normal;
        }

        if (payload.Length == 1 || !Utf8.IsValid(payload[2..]))
        {
            return SocketCloseCodes.ProtocolError;
        }

        // Echo the peer's code when it is one that may be sent on the wire (RFC 6455 7.4).
        var code = BinaryPrimitives.ReadUInt16BigEndian(payload);
        return code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999)
            ? code
            : SocketCloseCodes.ProtocolError;
    }

    private void AppendToMessage(in ReadOnlySequence<byte> payload, in FrameHeader header)
    {
        var needed = _messageLength + (int)header.PayloadLength;
        if (_message is null || _message.Length < needed)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(needed, 256));
            if (_message is not null)
            {
                _message.AsSpan(0, _messageLength).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(_message);
            }

            _message = grown;
        }

        Masking.CopyUnmasked(payload, _message.AsSpan(_messageLength), header.Mask, 0);
        _messageLength = needed;
    }

    private async ValueTask<bool> CompleteMessageAsync()
    {
        var length = _messageLength;
        _messageLength = 0;
        var message = _message!.AsMemory(0, length);
        try
        {
            if (!Utf8.IsValid(message.Span))
            {
                FailConnection(SocketCloseCodes.InvalidPayload);
                return true;
            }

            if (IsClosing)
            {
                // Closing: messages that were already on their way are dropped, not handled.
                return false;
            }

            await _runtime.Processor.ProcessAsync(this, message).ConfigureAwait(false);
            return false;
        }
        finally
        {
            // An idle connection keeps no message buffer.
            ReturnMessageBuffer();
        }
    }

    private void ReturnMessageBuffer()
    {
        if (_message is not null)
        {
            ArrayPool<byte>.Shared.Return(_message);
            _message = null;
        }
    }

    private enum GuardVerdict
    {
        Passed,
        Refused,
        Failed,
    }
}

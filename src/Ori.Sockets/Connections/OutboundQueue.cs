using System.Buffers;
using System.IO.Pipelines;
using Ori.Sockets.Protocol;

namespace Ori.Sockets.Connections;

/// <summary>What <see cref="OutboundQueue.TryEnqueue"/> did with a frame.</summary>
internal enum EnqueueResult
{
    /// <summary>Queued; the writer will send it.</summary>
    Queued,

    /// <summary>Refused: the queue is closing or stopped.</summary>
    Closed,

    /// <summary>Refused: past the bound. The queue dropped what it held and queued a 4008 close frame.</summary>
    Overflowed,
}

/// <summary>
/// One socket's bounded outbound queue and its writer. Frames are queued without waiting; the writer,
/// scheduled on the thread pool when the first frame arrives on an idle queue (or run by a receive loop that
/// queued it while handling a message: see <see cref="EndDeferring"/>; or by the publisher that queued it outside a
/// receive loop: see <see cref="BeginPublish"/>), copies queued frames into
/// one pooled buffer of up to <see cref="WriteBatchSize"/> bytes and makes one transport write per turn,
/// then queues itself again behind other sockets' writers. Past the bound, what is queued is dropped and a
/// 4008 close frame goes out instead. A close frame is the last frame written.
/// </summary>
internal sealed class OutboundQueue : IThreadPoolWorkItem
{
    /// <summary>A write gathers queued frames up to this size into one transport write (one syscall).</summary>
    public const int WriteBatchSize = 16 * 1024;

    // The longest ring a queue keeps when what waits is dropped (a slow consumer's backlog); a longer one is let go.
    private const int KeptRingLength = 64;

    // The queue whose owner's receive loop runs synchronously on this thread: what it enqueues (replies)
    // is written when the batch of frames it read is handled, on the same thread, in one write.
#pragma warning disable IDE1006 // t_ marks a thread static, as in the .NET runtime.
    [ThreadStatic]
    private static OutboundQueue? t_deferring;

    // Other sockets' queues that got frames while a receive loop's batch ran on this thread (a publish to a topic, a
    // send to a user): their writers run here when the batch ends, one write each for all the batch gave them, as an
    // event loop corks a socket until its iteration ends, instead of a thread-pool turn per socket.
    [ThreadStatic]
    private static List<OutboundQueue>? t_corked;

    // The publisher's cork of this thread (a publish made outside a receive loop: see BeginPublish).
    [ThreadStatic]
    private static PublishCork? t_publishing;
#pragma warning restore IDE1006

    private readonly Stream? _stream;
    private readonly PipeWriter? _pipe;
    private readonly long _limit;
    private readonly Action _transportFailed;
    private readonly OutboundBudget? _budget;
    private readonly Lock _sync = new();
    // Made when FinishAsync has to wait for the writer (under the lock): an idle socket holds none.
    private TaskCompletionSource? _stopped;

    // Guarded by _sync. The frames waiting, oldest at _head, in a ring whose length is a power of two (made by the
    // first frame): a Queue<T> would be one more object per socket (40 bytes) and one more cache line per delivery.
    private SocketFrame?[]? _frames;
    private int _head;
    private int _count;
    private long _queuedBytes;
    private bool _writerScheduled;
    private bool _closeQueued;
    private bool _writerStopped;
    private bool _flushDeferred;
    private bool _finishing;

    /// <param name="stream">The transport.</param>
    /// <param name="limit">The most bytes (frames with their headers) that may wait.</param>
    /// <param name="transportFailed">Called once when a write fails: the caller tears the transport down.</param>
    /// <param name="budget">The process-wide budget every queue's bytes count against, or null.</param>
    public OutboundQueue(Stream stream, long limit, Action transportFailed, OutboundBudget? budget = null)
        : this(limit, transportFailed, budget) => _stream = stream;

    /// <param name="pipe">The transport's own pipe (a listener's connection): each batch is written into it, with no stream between.</param>
    /// <param name="limit">The most bytes (frames with their headers) that may wait.</param>
    /// <param name="transportFailed">Called once when a write fails: the caller tears the transport down.</param>
    /// <param name="budget">The process-wide budget every queue's bytes count against, or null.</param>
    public OutboundQueue(PipeWriter pipe, long limit, Action transportFailed, OutboundBudget? budget = null)
        : this(limit, transportFailed, budget) => _pipe = pipe;

    private OutboundQueue(long limit, Action transportFailed, OutboundBudget? budget)
    {
        _limit = limit;
        _transportFailed = transportFailed;
        _budget = budget;
    }

    /// <summary>Whether a close frame has been queued (or the writer stopped): nothing more is accepted.</summary>
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

    /// <summary>The bytes waiting to be written.</summary>
    public long QueuedBytes
    {
        get
        {
            lock (_sync)
            {
                return _queuedBytes;
            }
        }
    }

    /// <summary>Completes when the writer has stopped (after a close frame, a failure, or <see cref="FinishAsync"/>).</summary>
    public Task Stopped
    {
        get
        {
            lock (_sync)
            {
                return _writerStopped ? Task.CompletedTask : (_stopped ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }
    }

    /// <summary>Queues a frame for the writer.</summary>
    public EnqueueResult TryEnqueue(SocketFrame frame)
    {
        var schedule = false;
        var corked = false;
        PublishCork? publishing = null;
        EnqueueResult result;
        lock (_sync)
        {
            if (_closeQueued)
            {
                return EnqueueResult.Closed;
            }

            if (frame.Length > _limit - _queuedBytes)
            {
                // Slow consumer: drop what it has not read rather than grow, and close it.
                CloseLocked(SocketCloseCodes.SlowConsumer, "Slow consumer", dropQueued: true, ref schedule);
                result = EnqueueResult.Overflowed;
            }
            else
            {
                Push(frame);
                Account(frame.Length);
                if (t_deferring is { } deferring && !_writerScheduled && !_writerStopped)
                {
                    // Written at the end of the batch a receive loop runs on this thread: the loop's own replies by
                    // the loop, other sockets' frames by EndDeferring (unless another batch already corked this queue:
                    // that one writes them). No thread hop, one write per socket per batch.
                    corked = deferring != this && !_flushDeferred;
                    _flushDeferred = true;
                }
                else if (PublishCork.Enabled && t_publishing is { Active: true } cork && !_writerScheduled && !_writerStopped)
                {
                    // A publish outside a receive loop: the publisher writes this socket with the others it reached
                    // (see BeginPublish), unless a batch or a publisher corked it already.
                    publishing = _flushDeferred ? null : cork;
                    _flushDeferred = true;
                }
                else
                {
                    schedule = ScheduleLocked();
                }

                result = EnqueueResult.Queued;
            }
        }

        if (schedule)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
        else if (corked)
        {
            (t_corked ??= []).Add(this);
        }
        else
        {
            publishing?.Add(this);
        }

        return result;
    }

    /// <summary>
    /// A publish begins on this thread outside a receive loop (an HTTP handler, a background service, a provider's
    /// subscription). With one processor the sockets it reaches are corked in this thread's <see cref="PublishCork"/>
    /// until <see cref="EndPublish"/>. Returns null inside a receive loop, which corks already (see
    /// <see cref="EndDeferring"/>), and with more processors, where each socket's writer takes a turn of its own.
    /// </summary>
    public static PublishCork? BeginPublish()
    {
        if (t_deferring is not null || !PublishCork.Enabled)
        {
            return null;
        }

        var cork = t_publishing ??= new PublishCork();
        cork.Active = true;
        return cork;
    }

    /// <summary>The publish <see cref="BeginPublish"/> began (of a frame of <paramref name="length"/> bytes) has reached its sockets.</summary>
    public static void EndPublish(PublishCork? cork, int length)
    {
        if (cork is not null)
        {
            cork.Active = false;
            cork.Published(length);
        }
    }

    /// <summary>
    /// Queues a close frame (after what is queued, or instead of it with <paramref name="dropQueued"/>).
    /// Returns false when a close was already queued.
    /// </summary>
    public bool TryClose(int code, string reason, bool dropQueued)
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

        return started;
    }

    /// <summary>From now on, frames queued on this thread wait for <see cref="FlushDeferredAsync"/> instead of a writer turn.</summary>
    public void BeginDeferring() => t_deferring = this;

    /// <summary>
    /// Frames queued on this thread go to the writer again; the other sockets' queues corked during the batch are written
    /// now, on this thread (a queue whose transport pushes back finishes its turn on its own).
    /// </summary>
    public static void EndDeferring()
    {
        t_deferring = null;
        WriteCorked();
    }

    /// <summary>Writes the other sockets' queues corked on this thread so far (the receive loop calls it after each message).</summary>
    public static void WriteCorked()
    {
        if (t_corked is not { Count: > 0 } corked)
        {
            return;
        }

        // By index: a turn that fails ends its connection, and what that sends (a presence leave) may cork more queues
        // on this thread while the list is walked; they are written in the same walk.
        for (var i = 0; i < corked.Count; i++)
        {
            corked[i].WriteTurn();
        }

        corked.Clear();
    }

    /// <summary>Writes what was queued while deferring: on this thread when <paramref name="inline"/>, else by a writer turn.</summary>
    public async ValueTask FlushDeferredAsync(bool inline)
    {
        if (!TakeDeferredTurn())
        {
            return;
        }

        if (inline)
        {
            var drain = DrainAsync();
            if (!drain.IsCompleted)
            {
                // The transport pushes back (a peer that does not read): the writer finishes its turn on its own and
                // the receive loop goes on reading, so that what this socket may hold is bounded by the queue's limit
                // (past it: 4008), not by a write that never completes while the peer keeps sending.
                return;
            }

            await drain.ConfigureAwait(false);
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>
    /// Lets the writer send what is queued (the close frame above all) and stops it; true when it finished
    /// within <paramref name="timeout"/>, false when it did not (the caller aborts the transport).
    /// </summary>
    public async Task<bool> FinishAsync(TimeSpan timeout, TimeProvider time)
    {
        TaskCompletionSource? stopped = null;
        lock (_sync)
        {
            _closeQueued = true;
            _finishing = true;
            if (_writerScheduled)
            {
                // The writer is under way: whatever stops it sets this (it reads the field under this lock, or after it).
                stopped = _stopped ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            else
            {
                StopLocked();
            }
        }

        if (stopped is null)
        {
            return true;
        }

        try
        {
            await stopped.Task.WaitAsync(timeout, time).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    void IThreadPoolWorkItem.Execute() => _ = DrainAsync();

    /// <summary>Takes the writer's turn on this thread for what a batch or a publisher corked.</summary>
    internal void WriteTurn()
    {
        if (TakeDeferredTurn())
        {
            _ = DrainAsync();
        }
    }

    /// <summary>True when frames wait for a deferred write and the writer's turn was taken for it (the caller drains).</summary>
    private bool TakeDeferredTurn()
    {
        lock (_sync)
        {
            if (!_flushDeferred)
            {
                return false;
            }

            _flushDeferred = false;
            return ScheduleLocked();
        }
    }

    private bool CloseLocked(int code, string reason, bool dropQueued, ref bool schedule)
    {
        if (_closeQueued)
        {
            return false;
        }

        _closeQueued = true;
        if (dropQueued)
        {
            ClearFrames();
            Account(-_queuedBytes);
        }

        var frame = SocketFrame.Close(code, reason);
        Push(frame);
        Account(frame.Length);
        schedule = ScheduleLocked();
        return true;
    }

    /// <summary>The queue's bytes change (its lock held), and the process-wide budget's with them.</summary>
    private void Account(long delta)
    {
        _queuedBytes += delta;
        _budget?.Change(delta);
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
                if (_count == 0)
                {
                    _writerScheduled = false;
                    if (_finishing)
                    {
                        StopLocked();
                        _stopped?.TrySetResult();
                    }

                    return;
                }

                // Coalesce: frames that fit go into one buffer and one write; a large frame goes alone.
                var taken = 0L;
                while (_count > 0)
                {
                    var frame = _frames![_head]!;
                    if (length == 0 && frame.Length > WriteBatchSize)
                    {
                        single = frame;
                        Pop();
                        taken = frame.Length;
                        sentClose = frame.IsClose;
                        break;
                    }

                    if (length + frame.Length > WriteBatchSize)
                    {
                        break;
                    }

                    batch ??= ArrayPool<byte>.Shared.Rent(WriteBatchSize);
                    frame.Buffer.CopyTo(batch, length);
                    length += frame.Length;
                    Pop();
                    if (frame.IsClose)
                    {
                        sentClose = true;
                        break;
                    }
                }

                Account(-(taken + length));
            }

            if (_pipe is not null)
            {
                // One write: Kestrel's pipe copies it and flushes; the listeners' own transport sends it from this memory.
                var flushed = await _pipe.WriteAsync(single is not null ? single.Buffer : batch.AsMemory(0, length)).ConfigureAwait(false);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    throw new IOException("The transport no longer takes writes.");
                }
            }
            else if (single is not null)
            {
                await _stream!.WriteAsync(single.Buffer).ConfigureAwait(false);
            }
            else
            {
                await _stream!.WriteAsync(batch.AsMemory(0, length)).ConfigureAwait(false);
            }

            if (sentClose)
            {
                // Nothing goes out after a close frame (RFC 6455 5.5.1).
                Stop();
                return;
            }

            lock (_sync)
            {
                if (_count == 0)
                {
                    _writerScheduled = false;
                    if (_finishing)
                    {
                        StopLocked();
                        _stopped?.TrySetResult();
                    }

                    return;
                }
            }

            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
#pragma warning disable CA1031 // The transport failed (peer gone, aborted): the writer stops and the owner tears the transport down.
        catch (Exception)
#pragma warning restore CA1031
        {
            // The owner is told before the writer reports itself stopped: whoever waits on Stopped sees the abort done.
            lock (_sync)
            {
                StopLocked();
            }

            _transportFailed();
            _stopped?.TrySetResult();
        }
        finally
        {
            if (batch is not null)
            {
                ArrayPool<byte>.Shared.Return(batch);
            }
        }
    }

    private void Stop()
    {
        lock (_sync)
        {
            StopLocked();
        }

        _stopped?.TrySetResult();
    }

    private void StopLocked()
    {
        _writerStopped = true;
        _writerScheduled = false;
        _closeQueued = true;
        ClearFrames();
        Account(-_queuedBytes);
    }

    private void Push(SocketFrame frame)
    {
        var frames = _frames;
        if (frames is null)
        {
            _frames = frames = new SocketFrame[4];
        }
        else if (_count == frames.Length)
        {
            // Full: double, oldest first at 0.
            var grown = new SocketFrame[frames.Length * 2];
            var tail = frames.Length - _head;
            Array.Copy(frames, _head, grown, 0, tail);
            Array.Copy(frames, 0, grown, tail, _head);
            _frames = frames = grown;
            _head = 0;
        }

        frames[(_head + _count) & (frames.Length - 1)] = frame;
        _count++;
    }

    private void Pop()
    {
        var frames = _frames!;
        frames[_head] = null;
        _head = (_head + 1) & (frames.Length - 1);
        _count--;
    }

    /// <summary>Drops what waits (a slow consumer's backlog, or the queue stopped); a ring a burst grew is let go with it.</summary>
    private void ClearFrames()
    {
        _frames = _frames is { Length: > KeptRingLength } ? null : _frames;
        if (_frames is not null)
        {
            Array.Clear(_frames);
        }

        _head = 0;
        _count = 0;
    }
}

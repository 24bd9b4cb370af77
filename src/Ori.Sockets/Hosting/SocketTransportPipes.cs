using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Ori.Sockets.Hosting;

/// <summary>
/// The reading side of a <see cref="SocketTransportConnection"/>: one pooled array for what is received and not yet
/// consumed, none while the socket is idle (a read first waits for data with a zero-byte receive, as Kestrel's
/// transport does, and the array goes back to the pool when everything in it is consumed). One read at a time, as a
/// pipe reader allows. A read's token is honoured with a registration (no task per read: Kestrel's TLS adapter passes
/// a token with every read); a read that its token cancels ends reading, as the tokens given here are cancelled only
/// when the connection ends (a handshake's deadline, after which it is refused and closed; the TLS adapter's disposal).
/// </summary>
internal sealed class SocketReader : PipeReader, IDisposable
{
    private const int BlockSize = 4096;
    private const int MinimumSpace = 512;

    // _state's flags: a receive is under way (it writes into the array); the reader is disposed.
    private const int Receiving = 1;
    private const int Disposed = 2;

    private readonly SocketTransportConnection _connection;
    private readonly Receiver _receiver;
    private byte[]? _buffer;
    private int _start;
    private int _end;
    private bool _examined = true;
    private bool _ended;
    private bool _cancelNext;
    private int _state;
    private volatile bool _abandoned;

    public SocketReader(SocketTransportConnection connection, Socket socket)
    {
        _connection = connection;
        _receiver = new Receiver(this, socket);
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_cancelNext)
        {
            _cancelNext = false;
            return new ValueTask<ReadResult>(new ReadResult(Buffered(), isCanceled: true, isCompleted: _ended));
        }

        if (_abandoned)
        {
            return new ValueTask<ReadResult>(new ReadResult(default, isCanceled: false, isCompleted: true));
        }

        if (TryRead(out var result))
        {
            return new ValueTask<ReadResult>(result);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<ReadResult>(cancellationToken);
        }

        var read = _receiver.ReceiveAsync();
        if (!read.IsCompleted && cancellationToken.CanBeCanceled)
        {
            // TLS reads (Kestrel's adapter passes its own token) and the handshake's deadline: a registration, no task.
            _receiver.CancelWith(cancellationToken);
        }

        return read;
    }

    public override bool TryRead(out ReadResult result)
    {
        if ((_end > _start && !_examined) || _ended)
        {
            result = new ReadResult(Buffered(), isCanceled: false, isCompleted: _ended);
            return true;
        }

        result = default;
        return false;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (_buffer is null)
        {
            return;
        }

        var start = consumed.GetObject() is null ? _start : consumed.GetInteger();
        var seen = examined.GetObject() is null ? start : examined.GetInteger();
        if ((consumed.GetObject() is { } owner && !ReferenceEquals(owner, _buffer)) || start < _start || seen < start || seen > _end)
        {
            throw new ArgumentOutOfRangeException(nameof(consumed), "The position is not in the last buffer read.");
        }

        _start = start;
        _examined = seen == _end;
        if (_start == _end)
        {
            // All consumed: the array goes back, and an idle socket holds none.
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
            _start = _end = 0;
        }
    }

    /// <summary>Makes the next read return cancelled; a read already waiting is not cancelled (nothing here needs it to be).</summary>
    public override void CancelPendingRead() => _cancelNext = true;

    public override void Complete(Exception? exception = null) => Release();

    /// <summary>
    /// Ends the reading for good: the array goes back to the pool and the operation is disposed, now, or when a receive
    /// still under way completes (it would write into the array, and it must not find its operation disposed).
    /// </summary>
    public void Dispose()
    {
        if ((Interlocked.Or(ref _state, Disposed) & Receiving) == 0)
        {
            Release();
            _receiver.Dispose();
        }
    }

    /// <summary>Gives the array back (the consumer is done with it, and no receive is under way).</summary>
    public void Release()
    {
        if (_buffer is { } buffer && (Volatile.Read(ref _state) & Receiving) == 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _buffer = null;
            _start = _end = 0;
        }
    }

    private ReadOnlySequence<byte> Buffered() => _buffer is null ? default : new ReadOnlySequence<byte>(_buffer, _start, _end - _start);

    /// <summary>
    /// The free part of the array, made room for: an array with less than <see cref="MinimumSpace"/> free is compacted
    /// and, when it is still short, doubled (a message larger than the array is read into a larger one).
    /// </summary>
    private Memory<byte> Space()
    {
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(BlockSize);
        }
        else if (_buffer.Length - _end < MinimumSpace)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            if (_buffer.Length - _end < MinimumSpace)
            {
                var larger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
                Buffer.BlockCopy(_buffer, 0, larger, 0, _end);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = larger;
            }
        }

        return _buffer.AsMemory(_end);
    }

    private void Received(int count)
    {
        _end += count;
        _examined = false;
    }

    private void End()
    {
        _ended = true;
        _connection.Ended();
    }

    /// <summary>
    /// The socket operation behind reads, and the source of a pending read's result: first a zero-byte receive when no
    /// array is held (it completes when data arrives), then a receive into the array.
    /// </summary>
    private sealed class Receiver : SocketAsyncEventArgs, IValueTaskSource<ReadResult>
    {
        private readonly SocketReader _reader;
        private readonly Socket _socket;
        private ManualResetValueTaskSourceCore<ReadResult> _source;
        private bool _waiting;

        // 1 while a read waits for its result: whoever takes it (the completion or the token) completes the read.
        private int _outstanding;
        private CancellationToken _token;
        private CancellationTokenRegistration _registration;

        public Receiver(SocketReader reader, Socket socket)
            : base(unsafeSuppressExecutionContextFlow: true)
        {
            _reader = reader;
            _socket = socket;
        }

        public ValueTask<ReadResult> ReceiveAsync()
        {
            _source.Reset();
            Interlocked.Or(ref _reader._state, Receiving);
            _waiting = _reader._buffer is null;
            Volatile.Write(ref _outstanding, 1);
            if (Issue())
            {
                Volatile.Write(ref _outstanding, 0);
                return new ValueTask<ReadResult>(Finish());
            }

            return new ValueTask<ReadResult>(this, _source.Version);
        }

        /// <summary>
        /// Lets <paramref name="token"/> cancel the pending read. A cancelled read ends reading: the receive stays under way
        /// until the socket closes, and later reads return completed.
        /// </summary>
        public void CancelWith(CancellationToken token)
        {
            _token = token;
            _registration = token.UnsafeRegister(static receiver => ((Receiver)receiver!).Cancel(), this);
        }

        public ReadResult GetResult(short token)
        {
            try
            {
                return _source.GetResult(token);
            }
            finally
            {
                // The consumer has the result: the token may no longer cancel anything (a no-op when none was given).
                _registration.Dispose();
                _registration = default;
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _source.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _source.OnCompleted(continuation, state, token, flags);

        protected override void OnCompleted(SocketAsyncEventArgs e)
        {
            if ((Volatile.Read(ref _reader._state) & Disposed) != 0)
            {
                // The connection is gone while a receive was under way (an abandoned read): finish it, nothing more.
                _reader.End();
                Complete(Finish());
                return;
            }

            if (TakeOutcome() || Issue())
            {
                Complete(Finish());
            }
        }

        private void Complete(ReadResult result)
        {
            if (Interlocked.Exchange(ref _outstanding, 0) == 1)
            {
                _source.SetResult(result);
            }
        }

        private void Cancel()
        {
            if (Interlocked.Exchange(ref _outstanding, 0) == 1)
            {
                _reader._abandoned = true;
                _source.SetException(new OperationCanceledException(_token));
            }
        }

        /// <summary>Starts receives until one is pending (false) or the read has its result (true).</summary>
        private bool Issue()
        {
            while (true)
            {
                SetBuffer(_waiting ? Memory<byte>.Empty : _reader.Space());
                try
                {
                    if (_socket.ReceiveAsync(this))
                    {
                        return false;
                    }
                }
                catch (ObjectDisposedException)
                {
                    _reader.End();
                    return true;
                }

                if (TakeOutcome())
                {
                    return true;
                }
            }
        }

        /// <summary>Takes a finished receive's outcome: true when the read has its result, false when data is waiting to be received.</summary>
        private bool TakeOutcome()
        {
            if (SocketError != SocketError.Success)
            {
                _reader.End();
                return true;
            }

            if (_waiting)
            {
                _waiting = false;
                return false;
            }

            if (BytesTransferred == 0)
            {
                _reader.End();
            }
            else
            {
                _reader.Received(BytesTransferred);
            }

            return true;
        }

        private ReadResult Finish()
        {
            // The operation lets go of the array: a released one must not stay reachable from here.
            SetBuffer(Memory<byte>.Empty);
            var result = new ReadResult(_reader.Buffered(), isCanceled: false, isCompleted: _reader._ended);
            if ((Interlocked.And(ref _reader._state, ~Receiving) & Disposed) != 0)
            {
                // Disposed while this receive was under way: the disposal left the array and the operation to it.
                _reader.Release();
                Dispose();
            }

            return result;
        }
    }
}

/// <summary>
/// The writing side of a <see cref="SocketTransportConnection"/>: a pooled array for what is written before a flush
/// (the handshake's answer), given back once sent; a whole write of memory goes to the socket from that memory.
/// </summary>
internal sealed class SocketWriter(SocketTransportConnection connection) : PipeWriter
{
    private byte[]? _buffer;
    private int _written;

    public override void Advance(int bytes)
    {
        if (bytes < 0 || _buffer is null || _written + bytes > _buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes));
        }

        _written += bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => Reserve(sizeHint).AsMemory(_written);

    public override Span<byte> GetSpan(int sizeHint = 0) => Reserve(sizeHint).AsSpan(_written);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_written == 0)
        {
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: connection.IsClosed));
        }

        var buffer = _buffer!;
        var length = _written;
        _buffer = null;
        _written = 0;
        return SendAndReturnAsync(buffer, length);
    }

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        if (_written == 0)
        {
            return connection.SendAsync(source);
        }

        source.Span.CopyTo(GetSpan(source.Length));
        Advance(source.Length);
        return FlushAsync(cancellationToken);
    }

    public override void CancelPendingFlush()
    {
        // A flush is one send: nothing waits that could be cancelled.
    }

    public override void Complete(Exception? exception = null) => Release();

    public void Release()
    {
        if (_buffer is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        _buffer = null;
        _written = 0;
    }

    private byte[] Reserve(int sizeHint)
    {
        var size = Math.Max(sizeHint, 1);
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 4096));
        }
        else if (_buffer.Length - _written < size)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _written + size));
            Buffer.BlockCopy(_buffer, 0, larger, 0, _written);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        return _buffer;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FlushResult> SendAndReturnAsync(byte[] buffer, int length)
    {
        try
        {
            return await connection.SendAsync(buffer.AsMemory(0, length)).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>A send operation, pooled across connections: a connection holds one only while a send is under way.</summary>
internal sealed class SocketSender : SocketAsyncEventArgs, IValueTaskSource<int>
{
    private const int MaxPooled = 1024;
    private static readonly ConcurrentQueue<SocketSender> s_pool = new();
    private static int s_pooled;

    private ManualResetValueTaskSourceCore<int> _source;

    private SocketSender()
        : base(unsafeSuppressExecutionContextFlow: true)
    {
    }

    public static SocketSender Rent()
    {
        if (s_pool.TryDequeue(out var sender))
        {
            Interlocked.Decrement(ref s_pooled);
            return sender;
        }

        return new SocketSender();
    }

    public static void Return(SocketSender sender)
    {
        sender.SetBuffer(Memory<byte>.Empty);
        if (Interlocked.Increment(ref s_pooled) <= MaxPooled)
        {
            s_pool.Enqueue(sender);
        }
        else
        {
            Interlocked.Decrement(ref s_pooled);
            sender.Dispose();
        }
    }

    /// <summary>Sends what it can of <paramref name="data"/>: the count sent, or -1 when the socket failed or was closed.</summary>
    public ValueTask<int> SendAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        _source.Reset();
        SetBuffer(MemoryMarshal.AsMemory(data));
        try
        {
            if (socket.SendAsync(this))
            {
                return new ValueTask<int>(this, _source.Version);
            }
        }
        catch (ObjectDisposedException)
        {
            return new ValueTask<int>(-1);
        }

        return new ValueTask<int>(Outcome());
    }

    public int GetResult(short token) => _source.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _source.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);

    protected override void OnCompleted(SocketAsyncEventArgs e) => _source.SetResult(Outcome());

    private int Outcome() => SocketError == SocketError.Success ? BytesTransferred : -1;
}

using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Ori.Sockets.Connections;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.Unit;

/// <summary>The outbound queue and its writer on their own, over a stream that records (and can hold) each write.</summary>
public sealed class OutboundQueueTests
{
    [Fact]
    public async Task Frames_arrive_in_order_and_small_frames_queued_together_go_in_one_write()
    {
        var stream = new GatedStream();
        var queue = new OutboundQueue(stream, 1024 * 1024, static () => { });
        Assert.Equal(EnqueueResult.Queued, queue.TryEnqueue(SocketFrame.Text("first")));
        await stream.WaitForWritesAsync(1);

        // The writer is inside its first write: these wait and then go out together.
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(EnqueueResult.Queued, queue.TryEnqueue(SocketFrame.Text($"m{i}")));
        }

        stream.Open();
        await Eventually.TrueAsync(() => Texts(stream.Written).Count == 51);
        Assert.Equal(["first", .. Enumerable.Range(0, 50).Select(i => $"m{i}")], Texts(stream.Written));
        Assert.Equal(2, stream.WriteCount);
        Assert.Equal(0, queue.QueuedBytes);
    }

    [Fact]
    public async Task A_backlog_larger_than_one_batch_takes_several_writes_of_at_most_a_batch()
    {
        var stream = new GatedStream();
        var queue = new OutboundQueue(stream, 1024 * 1024, static () => { });
        queue.TryEnqueue(SocketFrame.Text("hold"));
        await stream.WaitForWritesAsync(1);
        var payload = new string('p', 1000);
        for (var i = 0; i < 100; i++)
        {
            queue.TryEnqueue(SocketFrame.Text(payload));
        }

        stream.Open();
        await Eventually.TrueAsync(() => Texts(stream.Written).Count == 101);
        Assert.All(stream.WriteSizes.Skip(1), size => Assert.InRange(size, 1, OutboundQueue.WriteBatchSize));
        Assert.InRange(stream.WriteCount, 1 + (100 * 1004 / OutboundQueue.WriteBatchSize), 1 + 100);

        // The ring that backlog grew is let go once written; the next frames make a new one and keep their order.
        for (var i = 0; i < 10; i++)
        {
            queue.TryEnqueue(SocketFrame.Text($"after{i}"));
        }

        await Eventually.TrueAsync(() => Texts(stream.Written).Count == 111);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"after{i}"), Texts(stream.Written).Skip(101));
        Assert.Equal(0, queue.QueuedBytes);
    }

    [Fact]
    public async Task Past_its_bound_the_queue_drops_what_waits_and_sends_4008_and_nothing_after()
    {
        var stream = new GatedStream();
        var queue = new OutboundQueue(stream, 100, static () => { });
        Assert.Equal(EnqueueResult.Queued, queue.TryEnqueue(SocketFrame.Text("in flight")));
        await stream.WaitForWritesAsync(1);
        Assert.Equal(EnqueueResult.Queued, queue.TryEnqueue(SocketFrame.Text(new string('a', 60))));
        Assert.Equal(EnqueueResult.Overflowed, queue.TryEnqueue(SocketFrame.Text(new string('b', 60))));
        Assert.True(queue.IsClosing);
        Assert.Equal(EnqueueResult.Closed, queue.TryEnqueue(SocketFrame.Text("late")));

        stream.Open();
        await queue.Stopped.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var frames = Frames(stream.Written);
        Assert.Equal(2, frames.Count);
        Assert.Equal("in flight", Encoding.UTF8.GetString(frames[0].Payload));
        Assert.Equal(0x8, frames[1].Opcode);
        Assert.Equal(4008, BinaryPrimitives.ReadUInt16BigEndian(frames[1].Payload));
    }

    [Fact]
    public async Task A_close_keeps_what_was_queued_before_it_and_refuses_what_comes_after()
    {
        var stream = new GatedStream();
        stream.Open();
        var queue = new OutboundQueue(stream, 1024, static () => { });
        queue.TryEnqueue(SocketFrame.Text("a"));
        queue.TryEnqueue(SocketFrame.Text("b"));
        Assert.True(queue.TryClose(1000, "bye", dropQueued: false));
        Assert.False(queue.TryClose(1001, "again", dropQueued: false));
        Assert.Equal(EnqueueResult.Closed, queue.TryEnqueue(SocketFrame.Text("c")));
        await queue.Stopped.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        var frames = Frames(stream.Written);
        Assert.Equal(["a", "b"], frames.Take(2).Select(f => Encoding.UTF8.GetString(f.Payload)));
        Assert.Equal(0x8, frames[2].Opcode);
        Assert.Equal(1000, BinaryPrimitives.ReadUInt16BigEndian(frames[2].Payload));
        Assert.Equal(3, frames.Count);
    }

    [Fact]
    public async Task A_failed_write_stops_the_writer_and_tells_the_owner_once()
    {
        var stream = new GatedStream { Fail = true };
        stream.Open();
        var failures = 0;
        var queue = new OutboundQueue(stream, 1024, () => Interlocked.Increment(ref failures));
        queue.TryEnqueue(SocketFrame.Text("a"));
        await queue.Stopped.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(1, failures);
        Assert.Equal(EnqueueResult.Closed, queue.TryEnqueue(SocketFrame.Text("b")));
        Assert.Equal(1, failures);
    }

    [Fact]
    public async Task Finishing_waits_for_the_writer_within_the_time_limit_on_the_given_clock()
    {
        var time = new FakeTimeProvider();
        var stream = new GatedStream();
        var queue = new OutboundQueue(stream, 1024, static () => { });
        queue.TryEnqueue(SocketFrame.Text("stuck"));
        await stream.WaitForWritesAsync(1);

        var finish = queue.FinishAsync(TimeSpan.FromSeconds(5), time);
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.False(finish.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(4));
        await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.False(finish.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(await finish.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));

        // An idle queue finishes at once.
        var idle = new OutboundQueue(new GatedStream(), 1024, static () => { });
        Assert.True(await idle.FinishAsync(TimeSpan.FromSeconds(5), time).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Frames_queued_while_deferring_wait_for_the_flush_and_go_in_one_write()
    {
        var stream = new GatedStream();
        stream.Open();
        var queue = new OutboundQueue(stream, 1024, static () => { });
        queue.BeginDeferring();
        try
        {
            queue.TryEnqueue(SocketFrame.Text("r1"));
            queue.TryEnqueue(SocketFrame.Text("r2"));
        }
        finally
        {
            OutboundQueue.EndDeferring();
        }

        await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.Equal(0, stream.WriteCount);
        await queue.FlushDeferredAsync(inline: true);
        Assert.Equal(1, stream.WriteCount);
        Assert.Equal(["r1", "r2"], Texts(stream.Written));
    }

    [Fact]
    public async Task An_inline_flush_does_not_wait_for_a_write_the_transport_holds_so_the_bound_still_applies()
    {
        // The peer does not read: the write never completes. The receive loop's flush must return, and what comes
        // next must be queued and counted, so that the bound (not a stuck write) decides.
        var stream = new GatedStream();
        var queue = new OutboundQueue(stream, 1024, static () => { });
        queue.BeginDeferring();
        try
        {
            queue.TryEnqueue(SocketFrame.Text("pong 1"));
        }
        finally
        {
            OutboundQueue.EndDeferring();
        }

        var flush = queue.FlushDeferredAsync(inline: true);
        await stream.WaitForWritesAsync(1);
        Assert.True(flush.IsCompleted);
        var overflowed = false;
        for (var i = 0; i < 100 && !overflowed; i++)
        {
            overflowed = queue.TryEnqueue(SocketFrame.Text(new string('p', 100))) == EnqueueResult.Overflowed;
        }

        Assert.True(overflowed);
        Assert.True(queue.IsClosing);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_burst_published_outside_a_receive_loop_arrives_whole_and_in_order_and_its_publisher_writes_as_it_goes(bool corked)
    {
        // Three sockets, 2,000 pushes of ~150 bytes from a thread of its own, as an HTTP handler or a background service
        // publishes: the publisher writes a socket's batch itself each time it fills a write, a thread-pool turn the rest,
        // and the last push, published alone after the burst, is written without another publish to carry it. Corked, as
        // with one processor, and not, as with more (each socket's writer takes turns on the thread pool).
        var streams = Enumerable.Range(0, 3).Select(_ => new GatedStream()).ToArray();
        foreach (var stream in streams)
        {
            stream.Open();
        }

        var queues = streams.Select(stream => new OutboundQueue(stream, 4 * 1024 * 1024, static () => { })).ToArray();
        var pushes = Enumerable.Range(0, 2000).Select(i => $"push {i} " + new string('p', 140)).Append("last").ToArray();
        var publisherWrites = -1;
        var was = PublishCork.Enabled;
        PublishCork.Enabled = corked;
        try
        {
            var publisher = new Thread(() =>
            {
                foreach (var push in pushes)
                {
                    var frame = SocketFrame.Text(push);
                    var cork = OutboundQueue.BeginPublish();
                    foreach (var queue in queues)
                    {
                        queue.TryEnqueue(frame);
                    }

                    OutboundQueue.EndPublish(cork, frame.Length);
                }

                publisherWrites = streams.Sum(stream => stream.WritesOn(Environment.CurrentManagedThreadId));
            });
            publisher.Start();
            await Eventually.TrueAsync(() => streams.All(stream => Texts(stream.Written).Count == pushes.Length));
            publisher.Join();
        }
        finally
        {
            PublishCork.Enabled = was;
        }

        Assert.All(streams, stream => Assert.Equal(pushes, Texts(stream.Written)));

        // ~300 KB per socket: 19 full writes each. Corked, the publisher fills one every ~105 pushes and writes what it
        // corked; not corked, it writes nothing itself.
        if (corked)
        {
            Assert.InRange(publisherWrites, 1, 3 * 2001);
        }
        else
        {
            Assert.Equal(0, publisherWrites);
        }

        Assert.All(queues, queue => Assert.Equal(0, queue.QueuedBytes));
    }

    private static List<string> Texts(byte[] bytes) => [.. Frames(bytes).Select(f => Encoding.UTF8.GetString(f.Payload))];

    /// <summary>Parses server frames (unmasked, as the server writes them).</summary>
    private static List<(int Opcode, byte[] Payload)> Frames(byte[] bytes)
    {
        var frames = new List<(int, byte[])>();
        var at = 0;
        while (at < bytes.Length)
        {
            var opcode = bytes[at] & 0x0F;
            long length = bytes[at + 1] & 0x7F;
            var header = 2;
            if (length == 126)
            {
                length = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(at + 2));
                header = 4;
            }
            else if (length == 127)
            {
                length = (long)BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(at + 2));
                header = 10;
            }

            frames.Add((opcode, bytes.AsSpan(at + header, (int)length).ToArray()));
            at += header + (int)length;
        }

        return frames;
    }

    /// <summary>
    /// A write-only stream that records each write and the thread that made it; writes wait until it is opened (once
    /// open, they complete on the writer's thread), or fail.
    /// </summary>
    internal sealed class GatedStream : Stream
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<byte[]> _writes = [];
        private readonly List<int> _threads = [];
        private int _started;

        public bool Fail { get; init; }

        public int WriteCount
        {
            get
            {
                lock (_writes)
                {
                    return _writes.Count;
                }
            }
        }

        public IReadOnlyList<int> WriteSizes
        {
            get
            {
                lock (_writes)
                {
                    return [.. _writes.Select(w => w.Length)];
                }
            }
        }

        public byte[] Written
        {
            get
            {
                lock (_writes)
                {
                    return [.. _writes.SelectMany(w => w)];
                }
            }
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public void Open() => _open.TrySetResult();

        /// <summary>How many writes <paramref name="thread"/> made.</summary>
        public int WritesOn(int thread)
        {
            lock (_writes)
            {
                return _threads.Count(t => t == thread);
            }
        }

        public Task WaitForWritesAsync(int count) => Eventually.TrueAsync(() => Volatile.Read(ref _started) >= count);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var copy = buffer.ToArray();
            var thread = Environment.CurrentManagedThreadId;
            Interlocked.Increment(ref _started);
            await _open.Task;
            if (Fail)
            {
                throw new IOException("The transport failed.");
            }

            lock (_writes)
            {
                _writes.Add(copy);
                _threads.Add(thread);
            }
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

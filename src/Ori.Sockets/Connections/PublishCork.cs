using System.Numerics;

namespace Ori.Sockets.Connections;

/// <summary>
/// With one processor, the sockets that publishes made on one thread outside a receive loop reached and whose frames
/// wait for a write (see <see cref="OutboundQueue.BeginPublish"/>). They are written, whichever comes first:
/// <list type="bullet">
/// <item>by the publisher itself, once its publishes since it last wrote fill a write (another frame of the same size
/// would not fit in <see cref="OutboundQueue.WriteBatchSize"/>): a burst's publisher pays for the writes as it goes
/// instead of running ahead of them, so the backlog waits in the kernel's socket buffers (as an event loop's publish
/// does) rather than in the queues, and each write carries a full batch (about 100 pushes of 150 bytes);</item>
/// <item>by one thread-pool turn, scheduled when a publish leaves sockets corked, which first yields the processor (a
/// publisher still under way goes on and writes its own batch) and then writes every socket itself: the publisher that
/// stops, or publishes now and then, has its frames written at once.</item>
/// </list>
/// With more processors there is no cork: each socket's writer gets a turn of its own on the thread pool as soon as a
/// frame reaches it, and the turns run in parallel, bounded by the outbound budget.
/// </summary>
internal sealed class PublishCork : IThreadPoolWorkItem
{
    private readonly Lock _sync = new();
    private readonly List<OutboundQueue> _queues = [];

    // The array a write copies the queues into, kept for the next (a write that finds it taken makes its own).
    private OutboundQueue[]? _taking;
    private bool _scheduled;

    // The owning thread's only: bytes published since the publisher last wrote.
    private int _published;

    /// <summary>Whether publishes outside a receive loop are corked: with one processor (settable for tests).</summary>
    internal static bool Enabled { get; set; } = Environment.ProcessorCount == 1;

    /// <summary>A publish is under way on the owning thread: the queues it reaches cork here.</summary>
    public bool Active { get; set; }

    /// <summary>A queue the publish reached waits for its write (added once per write, by the owning thread).</summary>
    public void Add(OutboundQueue queue)
    {
        lock (_sync)
        {
            _queues.Add(queue);
        }
    }

    /// <summary>One publish (a frame of <paramref name="length"/> bytes) ended on the owning thread.</summary>
    public void Published(int length)
    {
        _published += length;
        if (_published > OutboundQueue.WriteBatchSize - length)
        {
            _published = 0;
            Write();
            return;
        }

        lock (_sync)
        {
            if (_scheduled || _queues.Count == 0)
            {
                return;
            }

            _scheduled = true;
        }

        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    void IThreadPoolWorkItem.Execute()
    {
        // The publisher this turn's scheduling woke it from may still be publishing: it runs on and writes its own
        // batch, and this turn takes what is left. A publisher that stopped is not waiting to run: this returns at once.
        Thread.Yield();
        lock (_sync)
        {
            _scheduled = false;
        }

        Write();
    }

    private void Write()
    {
        // The queues are copied out under the lock (the publisher and the turn may write at once, each what it took)
        // and written outside it, from an array the cork keeps: nothing is allocated once it has grown to the sockets.
        OutboundQueue[] taken;
        int count;
        lock (_sync)
        {
            count = _queues.Count;
            if (count == 0)
            {
                return;
            }

            taken = _taking is { } kept && kept.Length >= count ? kept : new OutboundQueue[BitOperations.RoundUpToPowerOf2((uint)count)];
            _taking = null;
            _queues.CopyTo(taken);
            _queues.Clear();
        }

        for (var i = 0; i < count; i++)
        {
            taken[i].WriteTurn();
        }

        Array.Clear(taken, 0, count);
        lock (_sync)
        {
            if (_taking is null || _taking.Length < taken.Length)
            {
                _taking = taken;
            }
        }
    }
}

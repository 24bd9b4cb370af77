namespace Ori.Sockets.Connections;

/// <summary>
/// The sockets that publishes made on one thread outside a receive loop reached and whose frames wait for a write
/// (see <see cref="OutboundQueue.BeginPublish"/>). They are written, whichever comes first:
/// <list type="bullet">
/// <item>by the publisher itself, once its publishes since it last wrote fill a write (another frame of the same
/// size would not fit in <see cref="OutboundQueue.WriteBatchSize"/>): a burst's publisher pays for the writes as it
/// goes instead of running ahead of them, so the backlog waits in the kernel's socket buffers (as an event loop's
/// publish does) rather than in the queues, and each write carries a full batch (about 100 pushes of 150 bytes);</item>
/// <item>by one thread-pool turn, scheduled when a publish leaves sockets corked: the publisher that stops, or
/// publishes now and then, has its frames written at once. With one processor that turn first yields it (a publisher
/// still under way goes on and writes its own batch) and then writes every socket itself; with more, each socket gets
/// a writer's turn of its own on the thread pool, so that the writes run in parallel as before.</item>
/// </list>
/// </summary>
internal sealed class PublishCork : IThreadPoolWorkItem
{
    /// <summary>
    /// Whether the thread-pool turn writes every corked socket itself (one processor: parallel turns would only take
    /// turns on it) rather than giving each a writer's turn of its own. Settable for tests.
    /// </summary>
    internal static bool WriteInOneTurn { get; set; } = Environment.ProcessorCount == 1;

    private readonly Lock _sync = new();
    private List<OutboundQueue> _queues = [];
    private List<OutboundQueue>? _spare = [];
    private bool _scheduled;

    // The owning thread's only: bytes published since the publisher last wrote.
    private int _published;

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
            Write(inline: true);
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
        var inOneTurn = WriteInOneTurn;
        if (inOneTurn)
        {
            // The publisher this turn's scheduling woke it from may still be publishing: it runs on and writes its own
            // batch, and this turn takes what is left. A publisher that stopped is not waiting to run: this returns at once.
            Thread.Yield();
        }

        lock (_sync)
        {
            _scheduled = false;
        }

        Write(inline: inOneTurn);
    }

    private void Write(bool inline)
    {
        List<OutboundQueue> queues;
        lock (_sync)
        {
            if (_queues.Count == 0)
            {
                return;
            }

            queues = _queues;
            _queues = _spare ?? [];
            _spare = null;
        }

        foreach (var queue in queues)
        {
            if (inline)
            {
                queue.WriteTurn();
            }
            else
            {
                queue.ScheduleTurn();
            }
        }

        queues.Clear();
        lock (_sync)
        {
            _spare ??= queues;
        }
    }
}

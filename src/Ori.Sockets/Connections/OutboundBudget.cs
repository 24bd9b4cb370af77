namespace Ori.Sockets.Connections;

/// <summary>
/// The process-wide outbound budget: the bytes waiting in every socket's outbound queue together (a frame counts once
/// per socket it waits for). Past <see cref="Limit"/> a publisher waits until the writers have brought the total back
/// to half of it, so that a burst cannot run ahead of the sockets by its whole backlog; a publisher that has waited
/// <see cref="MaxWait"/> sheds the sockets that hold the most (4008, the slow-consumer close), so that a few readers that
/// never catch up cannot stall every publisher. 0 turns the budget off. With <c>perConnection</c> the budget is at least
/// that many bytes per open connection: with many sockets each one's share stays large enough for a write to carry
/// several frames (under fan-out a frame shared by every subscriber counts once per socket, and the share, not memory,
/// is what bounds a write's batch).
/// </summary>
/// <param name="limit">The most bytes that may wait in all queues before publishers wait; 0: no budget.</param>
/// <param name="maxWait">How long a publisher waits before the slowest consumers are shed.</param>
/// <param name="perConnection">The budget grows to this many bytes per open connection when that is more than <paramref name="limit"/>; 0: fixed.</param>
internal sealed class OutboundBudget(long limit, TimeSpan maxWait, long perConnection = 0)
{
    private readonly Lock _sync = new();
    private long _queued;
    private long _connections;
    private readonly long _base = limit;
    private long _limit = limit;
    private TaskCompletionSource? _belowHalf;

    /// <summary>The most bytes that may wait before publishers wait now; 0 when the budget is off.</summary>
    public long Limit => Volatile.Read(ref _limit);

    /// <summary>A connection opened: the budget may grow (see the per-connection share).</summary>
    public void Opened() => Resize(Interlocked.Increment(ref _connections));

    /// <summary>A connection ended: the budget may shrink back.</summary>
    public void Closed() => Resize(Interlocked.Decrement(ref _connections));

    /// <summary>How long a publisher waits before the slowest consumers are shed.</summary>
    public TimeSpan MaxWait => maxWait;

    /// <summary>The bytes waiting in all outbound queues.</summary>
    public long Queued => Volatile.Read(ref _queued);

    /// <summary>Whether publishers must wait now.</summary>
    public bool IsOver => _base > 0 && Volatile.Read(ref _queued) > Limit;

    /// <summary>
    /// Closes the sockets holding the most until at most the given number of bytes wait (set by the host: it knows
    /// the connections); returns how many it closed.
    /// </summary>
    public Func<long, int>? Shed { get; set; }

    /// <summary>A queue's bytes changed by <paramref name="delta"/> (its lock held: one atomic add, no allocation).</summary>
    public void Change(long delta)
    {
        var now = Interlocked.Add(ref _queued, delta);
        if (delta < 0)
        {
            ReleaseIfBelowHalf(now);
        }
    }

    /// <summary>Completes at once while under the budget; otherwise when the total is back to half of it.</summary>
    /// <param name="time">The clock of <see cref="MaxWait"/>.</param>
    /// <param name="cancellationToken">Cancels the wait (the publish then fails as canceled).</param>
    public ValueTask WaitAsync(TimeProvider time, CancellationToken cancellationToken) =>
        IsOver ? WaitSlowAsync(time, cancellationToken) : default;

    private async ValueTask WaitSlowAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        while (IsOver)
        {
            Task belowHalf;
            lock (_sync)
            {
                belowHalf = (_belowHalf ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            // A release between the check and the registration is not missed: the total is read again after it.
            if (Volatile.Read(ref _queued) <= Limit / 2)
            {
                Release();
                return;
            }

            var left = maxWait - time.GetElapsedTime(started);
            try
            {
                if (left <= TimeSpan.Zero)
                {
                    throw new TimeoutException();
                }

                await belowHalf.WaitAsync(left, time, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (TimeoutException)
            {
                // The writers are not catching up: the consumers that hold the most go, as a slow consumer would.
                Shed?.Invoke(Limit / 2);
                started = time.GetTimestamp();
                if (Volatile.Read(ref _queued) <= Limit)
                {
                    return;
                }
            }
        }
    }

    private void Resize(long connections)
    {
        if (_base == 0 || perConnection == 0)
        {
            return;
        }

        // Opens and closes that race may leave it one connection's share off until the next: harmless.
        Volatile.Write(ref _limit, Math.Max(_base, connections * perConnection));
        ReleaseIfBelowHalf(Volatile.Read(ref _queued));
    }

    /// <summary>Lets waiting publishers go when <paramref name="queued"/> is at most half the budget.</summary>
    private void ReleaseIfBelowHalf(long queued)
    {
        if (queued <= Limit / 2 && Volatile.Read(ref _belowHalf) is not null)
        {
            Release();
        }
    }

    private void Release()
    {
        TaskCompletionSource? waiting;
        lock (_sync)
        {
            waiting = _belowHalf;
            _belowHalf = null;
        }

        waiting?.TrySetResult();
    }
}

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Ori.Sockets.Connections;
using Ori.Sockets.Protocol;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets.Hosting;

/// <summary>
/// The server's live connections (from the upgrade to the end, guards included): the idle sweeper that
/// closes the silent ones with 4000, and the drain that closes all with 1001, spread over a window, and waits for them.
/// </summary>
internal sealed class ConnectionRegistry : IDisposable
{
    private readonly ConcurrentDictionary<SocketConnection, byte> _live = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeSpan _idleTimeout;
    private readonly TimeSpan _messageTimeout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private ITimer? _idleSweeper;
    private static readonly TimeSpan s_drainTick = TimeSpan.FromMilliseconds(10);
    private readonly OutboundBudget? _budget;
    private volatile bool _stopping;

    public ConnectionRegistry(IOptions<OriSocketsOptions> options, TimeProvider time, ILoggerFactory loggerFactory, OutboundBudget? budget = null)
    {
        _budget = budget;
        if (budget is not null)
        {
            budget.Shed = ShedLargest;
        }

        _idleTimeout = options.Value.IdleTimeout;
        _messageTimeout = options.Value.FragmentedMessageTimeout;
        _time = time;
        _logger = loggerFactory.CreateLogger(SocketLog.Category);
    }

    public int Count => _live.Count;

    /// <summary>
    /// The open connections' outbound queues: how many connections, the bytes they hold, and how many hold more than
    /// <paramref name="pressedOver"/> bytes (health and metrics).
    /// </summary>
    public (int Connections, long QueuedBytes, int Pressed) OutboundLoad(long pressedOver = long.MaxValue)
    {
        var connections = 0;
        var pressed = 0;
        long queued = 0;
        foreach (var connection in _live.Keys)
        {
            connections++;
            var bytes = connection.Outbound.QueuedBytes;
            queued += bytes;
            pressed += bytes > pressedOver ? 1 : 0;
        }

        return (connections, queued, pressed);
    }

    /// <summary>Whether the server is shutting down: new upgrades are refused.</summary>
    public bool IsStopping => _stopping;

    public void Track(SocketConnection connection)
    {
        _live[connection] = 0;
        if (_stopping)
        {
            connection.Close(SocketCloseCodes.GoingAway, "Server shutting down");
        }
    }

    public void Untrack(SocketConnection connection)
    {
        _live.TryRemove(connection, out _);
        if (_stopping && _live.IsEmpty)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>Starts the one timer that closes silent sockets (4000) and sockets whose fragmented message overran its time (1008).</summary>
    public void StartIdleSweeper()
    {
        var shortest = new[] { _idleTimeout, _messageTimeout }.Where(t => t > TimeSpan.Zero).DefaultIfEmpty(TimeSpan.Zero).Min();
        if (shortest <= TimeSpan.Zero)
        {
            return;
        }

        // One timer for all connections: a scan of their stamps, not a timer each.
        var period = TimeSpan.FromTicks(Math.Clamp(shortest.Ticks / 4, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(1).Ticks));
        _idleSweeper = _time.CreateTimer(static state => ((ConnectionRegistry)state!).SweepIdle(), this, period, period);
    }

    /// <summary>
    /// Drains the server: refuses new upgrades, tells every socket <c>ori.draining</c> with <paramref name="reconnectDelay"/>,
    /// closes them with 1001 one after another over <paramref name="window"/> (all at once when it is zero), and completes
    /// when all have ended; when <paramref name="cancellationToken"/> fires first, the sockets left are aborted. Only the
    /// first call drains; later calls wait for it.
    /// </summary>
    public async Task ShutdownAsync(TimeSpan window, TimeSpan reconnectDelay, CancellationToken cancellationToken)
    {
        if (!_stopping)
        {
            _stopping = true;
            var connections = _live.Keys.ToArray();
            SocketLog.ShuttingDown(_logger, connections.Length, (long)window.TotalMilliseconds, (long)reconnectDelay.TotalMilliseconds);

            // A socket still running its guards has had no ori.ready: nothing may come before it, so it is closed now.
            var draining = EnvelopeFrames.Draining((long)reconnectDelay.TotalMilliseconds, _time.GetUtcNow().ToUnixTimeMilliseconds());
            var ready = new List<SocketConnection>(connections.Length);
            foreach (var connection in connections)
            {
                if (connection.IsReady && connection.TryEnqueue(draining))
                {
                    ready.Add(connection);
                }
                else
                {
                    connection.Close(SocketCloseCodes.GoingAway, "Server shutting down");
                }
            }

            _ = CloseSpreadAsync([.. ready], window);
        }

        if (_live.IsEmpty)
        {
            _drained.TrySetResult();
        }

        try
        {
            await _drained.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            foreach (var connection in _live.Keys)
            {
                connection.Abort();
            }
        }
    }

    /// <summary>Closes the sockets in a random order at an even pace over the window, a few each tick.</summary>
    private async Task CloseSpreadAsync(SocketConnection[] connections, TimeSpan window)
    {
        Random.Shared.Shuffle(connections);
        var started = _time.GetTimestamp();
        var closed = 0;
        while (closed < connections.Length)
        {
            var elapsed = _time.GetElapsedTime(started);
            var due = window <= TimeSpan.Zero || elapsed >= window
                ? connections.Length
                : (int)Math.Ceiling(connections.Length * (elapsed / window));
            for (; closed < due; closed++)
            {
                connections[closed].Close(SocketCloseCodes.GoingAway, "Server shutting down");
            }

            if (closed < connections.Length)
            {
                await Task.Delay(s_drainTick, _time).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The outbound budget stayed spent for its whole wait: closes (4008) the sockets that hold the most until at most
    /// <paramref name="target"/> bytes wait in all queues. Returns how many it closed.
    /// </summary>
    public int ShedLargest(long target)
    {
        var holding = _live.Keys.Select(c => (Connection: c, Bytes: c.Outbound.QueuedBytes)).Where(c => c.Bytes > 0).OrderByDescending(c => c.Bytes).ToList();
        var shed = 0;
        foreach (var (connection, _) in holding)
        {
            if (_budget is null || _budget.Queued <= target)
            {
                break;
            }

            connection.Shed();
            shed++;
        }

        SocketLog.OutboundBudgetShed(_logger, _budget?.Limit ?? 0, shed);
        return shed;
    }

    public void Dispose() => _idleSweeper?.Dispose();

    private void SweepIdle()
    {
        foreach (var connection in _live.Keys)
        {
            if (_idleTimeout > TimeSpan.Zero && _time.GetElapsedTime(connection.LastActivity) > _idleTimeout)
            {
                connection.Close(SocketCloseCodes.IdleTimeout, "Idle timeout");
            }
            else if (_messageTimeout > TimeSpan.Zero && connection.MessageStartedAt is var started and not 0 && _time.GetElapsedTime(started) > _messageTimeout)
            {
                SocketLog.MessageTooSlow(_logger, connection.Id);
                connection.Close(SocketCloseCodes.PolicyViolation, "Message not completed in time");
            }
        }
    }
}

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Ori.Sockets.Connections;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets.Hosting;

/// <summary>
/// The server's live connections (from the upgrade to the end, guards included): the idle sweeper that
/// closes the silent ones with 4000, and the shutdown that closes all with 1001 and waits for them.
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
    private volatile bool _stopping;

    public ConnectionRegistry(IOptions<OriSocketsOptions> options, TimeProvider time, ILoggerFactory loggerFactory)
    {
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

    /// <summary>Closes every socket with 1001 and completes when all have ended (or aborts those left when canceled).</summary>
    public async Task ShutdownAsync(CancellationToken cancellationToken)
    {
        if (!_stopping)
        {
            _stopping = true;
            SocketLog.ShuttingDown(_logger, _live.Count);
            foreach (var connection in _live.Keys)
            {
                connection.Close(SocketCloseCodes.GoingAway, "Server shutting down");
            }
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

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Ori.Sockets.Connections;
using Ori.Sockets.Routing;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets.Hosting;

/// <summary>What every connection of the server shares: options, hub, provider, dispatchers, and the set of live connections.</summary>
internal sealed class SocketRuntime : IDisposable
{
    private readonly ConcurrentDictionary<SocketConnection, byte> _live = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _idleSweeper;
    private volatile bool _stopping;

    public SocketRuntime(
        IOptions<OriSocketsOptions> options,
        SocketHub hub,
        ISocketProvider provider,
        ISocketEmitter emitter,
        IEnumerable<ISocketDispatcher> dispatchers,
        ILoggerFactory loggerFactory,
        TimeProvider? timeProvider = null)
    {
        Options = options.Value;
        Hub = hub;
        Provider = provider;
        Emitter = emitter;
        Dispatchers = [.. dispatchers];
        Logger = loggerFactory.CreateLogger("Ori.Sockets");
        Processor = new MessageProcessor(this);
        TimeProvider = timeProvider ?? TimeProvider.System;
    }

    public OriSocketsOptions Options { get; }

    public SocketHub Hub { get; }

    public ISocketProvider Provider { get; }

    public ISocketEmitter Emitter { get; }

    public ISocketDispatcher[] Dispatchers { get; }

    public ILogger Logger { get; }

    public MessageProcessor Processor { get; }

    public TimeProvider TimeProvider { get; }

    public int LiveConnections => _live.Count;

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

    public void StartIdleSweeper()
    {
        var idle = Options.IdleTimeout;
        if (idle <= TimeSpan.Zero)
        {
            return;
        }

        // One timer for all connections: a scan of their last-activity stamps, not a timer each.
        var period = TimeSpan.FromTicks(Math.Clamp(idle.Ticks / 4, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(1).Ticks));
        _idleSweeper = TimeProvider.CreateTimer(static state => ((SocketRuntime)state!).SweepIdle(), this, period, period);
    }

    /// <summary>Closes every socket with 1001 and completes when all have ended.</summary>
    public async Task ShutdownAsync(CancellationToken cancellationToken)
    {
        if (!_stopping)
        {
            _stopping = true;
            SocketLog.ShuttingDown(Logger, _live.Count);
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
        var limit = (long)Options.IdleTimeout.TotalMilliseconds;
        var now = Environment.TickCount64;
        foreach (var connection in _live.Keys)
        {
            if (now - connection.LastActivity > limit)
            {
                connection.Close(SocketCloseCodes.IdleTimeout, "Idle timeout");
            }
        }
    }
}

using System.Diagnostics.Metrics;

namespace Ori.Sockets.Hosting;

/// <summary>
/// The runtime's instruments, meter <c>Ori.Sockets</c> (OpenTelemetry naming): open connections, closed connections by
/// close code, deliveries of publishes, bytes waiting in outbound queues. Nothing is computed while no listener is
/// attached (each instrument's <c>Enabled</c> is checked first), so the hot paths stay free.
/// </summary>
internal sealed class SocketMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Ori.Sockets";

    private readonly Meter _meter;
    private readonly UpDownCounter<long> _connections;
    private readonly Counter<long> _closed;
    private readonly Counter<long> _deliveries;

    public SocketMetrics(IMeterFactory? factory, ConnectionRegistry registry, SocketHub hub)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _connections = _meter.CreateUpDownCounter<long>("ori.sockets.connections", "{connection}", "WebSocket connections open on this instance.");
        _closed = _meter.CreateCounter<long>("ori.sockets.connections.closed", "{connection}", "WebSocket connections that ended, by close code (1006: no close handshake).");
        _deliveries = _meter.CreateCounter<long>("ori.sockets.publish.deliveries", "{delivery}", "Frames queued for local sockets by publishes, broadcasts and sends to users.");
        _meter.CreateObservableGauge("ori.sockets.outbound.queued", () => Queued(registry), "By", "Bytes waiting in the outbound queues of this instance's sockets.");
        hub.Delivered = Delivered;
    }

    public void Opened()
    {
        if (_connections.Enabled)
        {
            _connections.Add(1);
        }
    }

    public void Closed(int code)
    {
        if (_connections.Enabled)
        {
            _connections.Add(-1);
        }

        if (_closed.Enabled)
        {
            _closed.Add(1, new KeyValuePair<string, object?>("ori.close_code", code));
        }
    }

    public void Delivered(int count)
    {
        if (count > 0 && _deliveries.Enabled)
        {
            _deliveries.Add(count);
        }
    }

    private static long Queued(ConnectionRegistry registry)
    {
        long queued = 0;
        foreach (var connection in registry.Live)
        {
            queued += connection.Outbound.QueuedBytes;
        }

        return queued;
    }

    public void Dispose() => _meter.Dispose();
}

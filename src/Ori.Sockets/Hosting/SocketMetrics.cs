using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;

namespace Ori.Sockets.Hosting;

/// <summary>
/// The runtime's instruments, meter <c>Ori.Sockets</c> (OpenTelemetry naming): open connections, closed connections by
/// close code, deliveries of publishes, bytes waiting in outbound queues. Nothing is computed while no listener is
/// attached (each instrument's <c>Enabled</c> is checked first), so the hot paths stay free.
/// </summary>
internal sealed class SocketMetrics : Ori.Sockets.Routing.IMessageMetrics, IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Ori.Sockets";

    private readonly Meter _meter;
    private readonly UpDownCounter<long> _connections;
    private readonly Counter<long> _closed;
    private readonly Counter<long> _deliveries;
    private readonly Counter<long> _received;
    private readonly Counter<long> _sent;
    private readonly Histogram<double> _duration;

    // Route names as tag values, made once per route the server knows (bounded by its routes: unknown types are "unknown").
    private readonly ConcurrentDictionary<ulong, string> _routes = new();

    public SocketMetrics(IMeterFactory? factory, ConnectionRegistry registry, SocketHub hub)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _connections = _meter.CreateUpDownCounter<long>("ori.sockets.connections", "{connection}", "WebSocket connections open on this instance.");
        _closed = _meter.CreateCounter<long>("ori.sockets.connections.closed", "{connection}", "WebSocket connections that ended, by close code (1006: no close handshake).");
        _deliveries = _meter.CreateCounter<long>("ori.sockets.publish.deliveries", "{delivery}", "Frames queued for local sockets by publishes, broadcasts and sends to users.");
        _received = _meter.CreateCounter<long>("ori.sockets.messages.received", "{message}", "Messages handled, by route and outcome (ok, or the error code of the reply).");
        _sent = _meter.CreateCounter<long>("ori.sockets.messages.sent", "{message}", "Messages sent to sockets, by kind: reply or push.");
        _duration = _meter.CreateHistogram<double>(
            "ori.sockets.handler.duration",
            "s",
            "Time from a message's arrival to the end of its handling, by route.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _meter.CreateObservableGauge("ori.sockets.outbound.queued", () => registry.OutboundLoad().QueuedBytes, "By", "Bytes waiting in the outbound queues of this instance's sockets.");
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

        if (count > 0 && _sent.Enabled)
        {
            _sent.Add(count, new KeyValuePair<string, object?>("ori.kind", "push"));
        }
    }

    /// <summary>Whether any per-message instrument listens (the pipeline reads the clock only then).</summary>
    public bool MessagesEnabled => _received.Enabled || _duration.Enabled || _sent.Enabled;

    /// <summary>One message handled: its route (when known), its outcome, its reply, its time since <paramref name="started"/>.</summary>
    public void Handled(ReadOnlySpan<byte> type, bool routed, string? errorCode, bool replied, long started)
    {
        var route = Route(type, routed);
        if (_received.Enabled)
        {
            _received.Add(1, new KeyValuePair<string, object?>("ori.route", route), new KeyValuePair<string, object?>("ori.outcome", errorCode ?? "ok"));
        }

        if (replied && _sent.Enabled)
        {
            _sent.Add(1, new KeyValuePair<string, object?>("ori.kind", "reply"));
        }

        if (started != 0 && _duration.Enabled)
        {
            _duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("ori.route", route));
        }
    }

    private string Route(ReadOnlySpan<byte> type, bool routed)
    {
        // FNV-1a over the UTF-8 name: no string is made to look a route up.
        var hash = 14695981039346656037UL;
        foreach (var b in type)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        if (_routes.TryGetValue(hash, out var name))
        {
            return name;
        }

        if (!routed || _routes.Count >= 10_000)
        {
            return "unknown";
        }

        name = Encoding.UTF8.GetString(type);
        _routes.TryAdd(hash, name);
        return name;
    }

    public void Dispose() => _meter.Dispose();
}

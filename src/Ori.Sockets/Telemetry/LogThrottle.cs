using System.Collections.Concurrent;

namespace Ori.Sockets.Telemetry;

/// <summary>
/// Keeps a log from being flooded by one cause: per key (a route), the first <see cref="PerWindow"/> events of each
/// window are logged in full; the rest are counted, and the count is reported with the first event of the next window.
/// Keys must come from a bounded set (route names, not client text).
/// </summary>
internal sealed class LogThrottle(TimeProvider time, TimeSpan window, int perWindow = 5)
{
    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);

    public int PerWindow => perWindow;

    /// <summary>
    /// Whether this event is logged in full; when it opens a new window, <paramref name="suppressed"/> is how many of the
    /// last window's were not.
    /// </summary>
    public bool ShouldLog(string key, out int suppressed)
    {
        var entry = _windows.GetOrAdd(key, static _ => new Window());
        lock (entry)
        {
            var now = time.GetTimestamp();
            suppressed = 0;
            if (entry.Count == 0 || time.GetElapsedTime(entry.StartedAt, now) >= window)
            {
                suppressed = entry.Suppressed;
                entry.StartedAt = now;
                entry.Count = 0;
                entry.Suppressed = 0;
            }

            if (entry.Count < perWindow)
            {
                entry.Count++;
                return true;
            }

            entry.Suppressed++;
            return false;
        }
    }

    private sealed class Window
    {
        public long StartedAt;
        public int Count;
        public int Suppressed;
    }
}

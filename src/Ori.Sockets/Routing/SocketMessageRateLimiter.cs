using System.ComponentModel;
using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;

namespace Ori.Sockets;

/// <summary>What a <see cref="SocketMessageRateLimiter"/> decided about one message.</summary>
public enum RateLimitVerdict
{
    /// <summary>Within the limit: handle it.</summary>
    Allow,

    /// <summary>Past the limit: answer <c>rate_limited</c>.</summary>
    Refuse,

    /// <summary>Far past the limit (refused <c>RateLimitCloseFactor</c> times the burst in a row): close the socket with 1008.</summary>
    Close,
}

/// <summary>
/// A message budget of one connection (the whole connection, a router or a route): a token bucket of
/// <c>permitsPerSecond</c> with a burst, a <see cref="RateLimiter"/> of System.Threading.RateLimiting whose tokens
/// refill from the application's <see cref="TimeProvider"/> when a message arrives (no timer per connection; the BCL's
/// token bucket replenishes from the real clock only, which tests could not drive). Generated code creates one per
/// connection for each <see cref="RateLimitAttribute"/>; the runtime one for the connection's own budget (<c>MessagesPerSecond</c>).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class SocketMessageRateLimiter : RateLimiter
{
    private static readonly RateLimitLease s_acquired = new Lease(true);
    private static readonly RateLimitLease s_refused = new Lease(false);

    private readonly double _permitsPerSecond;
    private readonly int _burst;
    private readonly int _closeAfter;
    private readonly TimeProvider _time;
    private readonly Lock _sync = new();
    private double _tokens;
    private long _refilledAt;
    private long? _idleSince;
    private int _refusedInARow;

    /// <summary>Creates a budget of <paramref name="permitsPerSecond"/> with <paramref name="burst"/> permits at most, full.</summary>
    /// <param name="permitsPerSecond">Messages per second, sustained; more than 0.</param>
    /// <param name="burst">Messages that may come at once; at least 1.</param>
    /// <param name="closeFactor">Refused <c>closeFactor × burst</c> times in a row, the socket is closed (1008); 0 never closes.</param>
    /// <param name="time">The clock.</param>
    public SocketMessageRateLimiter(double permitsPerSecond, int burst, int closeFactor, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(permitsPerSecond);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(closeFactor);
        ArgumentNullException.ThrowIfNull(time);
        _permitsPerSecond = permitsPerSecond;
        _burst = burst;
        _closeAfter = closeFactor == 0 ? int.MaxValue : checked(closeFactor * burst);
        _time = time;
        _tokens = burst;
        _refilledAt = time.GetTimestamp();
        _idleSince = _refilledAt;
    }

    /// <inheritdoc />
    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_sync)
            {
                return _idleSince is { } since ? _time.GetElapsedTime(since) : null;
            }
        }
    }

    /// <summary>Creates a budget with the application's clock and close factor (<c>RateLimitCloseFactor</c>).</summary>
    /// <param name="services">The connection's services.</param>
    /// <param name="permitsPerSecond">Messages per second, sustained.</param>
    /// <param name="burst">Messages that may come at once.</param>
    /// <returns>The budget.</returns>
    public static SocketMessageRateLimiter Create(IServiceProvider services, double permitsPerSecond, int burst)
    {
        ArgumentNullException.ThrowIfNull(services);
        var closeFactor = services.GetService<Routing.MessageBudget>()?.CloseFactor ?? 5;
        return new SocketMessageRateLimiter(permitsPerSecond, burst, closeFactor, services.GetService<TimeProvider>() ?? TimeProvider.System);
    }

    /// <summary>Takes one permit for a message.</summary>
    /// <returns>Whether the message may be handled, refused, or the socket closed.</returns>
    public RateLimitVerdict Acquire()
    {
        using var lease = AttemptAcquire();
        lock (_sync)
        {
            if (lease.IsAcquired)
            {
                _refusedInARow = 0;
                return RateLimitVerdict.Allow;
            }

            return ++_refusedInARow >= _closeAfter ? RateLimitVerdict.Close : RateLimitVerdict.Refuse;
        }
    }

    /// <inheritdoc />
    public override RateLimiterStatistics? GetStatistics()
    {
        lock (_sync)
        {
            Refill();
            return new RateLimiterStatistics { CurrentAvailablePermits = (long)_tokens };
        }
    }

    /// <inheritdoc />
    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        lock (_sync)
        {
            Refill();
            if (_tokens >= permitCount)
            {
                _tokens -= permitCount;
                _idleSince = _tokens >= _burst ? _time.GetTimestamp() : null;
                return s_acquired;
            }

            return s_refused;
        }
    }

    /// <inheritdoc />
    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        new(AttemptAcquireCore(permitCount));

    private void Refill()
    {
        var now = _time.GetTimestamp();
        var seconds = _time.GetElapsedTime(_refilledAt, now).TotalSeconds;
        _refilledAt = now;
        _tokens = Math.Min(_burst, _tokens + (seconds * _permitsPerSecond));
        if (_tokens >= _burst)
        {
            _idleSince ??= now;
        }
    }

    /// <summary>A lease that holds nothing: this limiter's permits are spent, not returned.</summary>
    private sealed class Lease(bool acquired) : RateLimitLease
    {
        public override bool IsAcquired => acquired;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }
}

/// <summary>
/// A message budget per connection for this route (on a method) or for all the routes of this router together (on
/// a class): past it the message is answered <c>rate_limited</c>, and a client that keeps going
/// (<c>RateLimitCloseFactor</c> times the burst, refused in a row) is closed with 1008. It adds
/// to the connection's own budget (<c>MessagesPerSecond</c>). Checked by the generator (ORI025).
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class RateLimitAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="permitsPerSecond">Messages per second, sustained; more than 0.</param>
    public RateLimitAttribute(double permitsPerSecond) => PermitsPerSecond = permitsPerSecond;

    /// <summary>Messages per second, sustained.</summary>
    public double PermitsPerSecond { get; }

    /// <summary>Messages that may come at once; at least 1. Default: one second's worth (at least 1).</summary>
    public int Burst { get; set; }
}

using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets.Hosting;

/// <summary>
/// Connection attempts per remote address and per authenticated user, each a fixed window of one minute
/// (<see cref="OriSocketsOptions.ConnectionsPerMinutePerAddress"/>, <see cref="OriSocketsOptions.ConnectionsPerMinutePerUser"/>):
/// past either, the upgrade is answered 429 with a problem body and <c>Retry-After</c>, before any WebSocket exists.
/// </summary>
internal sealed class UpgradeRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<HttpContext>? _limiter;
    private readonly ILogger _logger;

    public UpgradeRateLimiter(IOptions<OriSocketsOptions> options, ILoggerFactory loggerFactory)
    {
        _logger = loggerFactory.CreateLogger(SocketLog.Category);
        var perAddress = options.Value.ConnectionsPerMinutePerAddress;
        var perUser = options.Value.ConnectionsPerMinutePerUser;
        var limiters = new List<PartitionedRateLimiter<HttpContext>>();
        if (perAddress > 0)
        {
            limiters.Add(PartitionedRateLimiter.Create<HttpContext, string>(http =>
                RateLimitPartition.GetFixedWindowLimiter("address:" + (http.Connection.RemoteIpAddress?.ToString() ?? "unknown"), _ => Window(perAddress))));
        }

        if (perUser > 0)
        {
            limiters.Add(PartitionedRateLimiter.Create<HttpContext, string>(http =>
                http.User.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name }
                    ? RateLimitPartition.GetFixedWindowLimiter("user:" + name, _ => Window(perUser))
                    : RateLimitPartition.GetNoLimiter("anonymous")));
        }

        _limiter = limiters.Count switch
        {
            0 => null,
            1 => limiters[0],
            _ => PartitionedRateLimiter.CreateChained([.. limiters]),
        };
    }

    /// <summary>Takes a permit for an upgrade; when refused, writes the 429 and returns false.</summary>
    public async ValueTask<bool> TryAcquireAsync(HttpContext http)
    {
        if (_limiter is null)
        {
            return true;
        }

        using var lease = _limiter.AttemptAcquire(http);
        if (lease.IsAcquired)
        {
            return true;
        }

        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromMinutes(1);
        SocketLog.UpgradeRateLimited(_logger, http.Connection.RemoteIpAddress?.ToString() ?? "unknown");
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = Math.Ceiling(retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        http.Response.ContentType = "application/problem+json";
        await http.Response.WriteAsync(
            """{"type":"https://tools.ietf.org/html/rfc6585#section-4","title":"Too many connection attempts","status":429,"detail":"This address or user made more WebSocket connection attempts than the server allows per minute; retry later."}""").ConfigureAwait(false);
        return false;
    }

    public void Dispose() => _limiter?.Dispose();

    private static FixedWindowRateLimiterOptions Window(int permits) =>
        new() { PermitLimit = permits, Window = TimeSpan.FromMinutes(1), QueueLimit = 0, AutoReplenishment = true };
}

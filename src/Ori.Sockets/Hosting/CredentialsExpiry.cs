using System.Globalization;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Ori.Sockets.Connections;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets.Hosting;

/// <summary>
/// When a connection's credentials expire, and the close at that moment: 4001, so that the client reconnects with
/// fresh ones. The expiry is what a guard set (<see cref="ConnectionGuardContext.CredentialsExpireAt"/>), else the
/// authentication ticket's <c>ExpiresUtc</c>, else the user's <c>exp</c> claim (Unix seconds, as in a JWT).
/// </summary>
internal static class CredentialsExpiry
{
    public static DateTimeOffset? Of(HttpContext http)
    {
        if (http.Features.Get<IAuthenticateResultFeature>()?.AuthenticateResult?.Properties?.ExpiresUtc is { } expires)
        {
            return expires;
        }

        return SocketContext.AuthenticatedUser(http)?.FindFirst("exp") is { } claim && long.TryParse(claim.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(seconds, 0, DateTimeOffset.MaxValue.ToUnixTimeSeconds()))
            : null;
    }

    /// <summary>Closes <paramref name="connection"/> with 4001 at <paramref name="expiresAt"/> (at once, before <c>ori.ready</c>, when it has passed); the watch is the caller's to dispose.</summary>
    public static IDisposable? Watch(DateTimeOffset? expiresAt, SocketConnection connection, TimeProvider time, ILogger logger)
    {
        if (expiresAt is null)
        {
            return null;
        }

        if (expiresAt.Value <= time.GetUtcNow())
        {
            // Expired already: closed before it is ready, so it never looks accepted.
            SocketLog.CredentialsExpired(logger, connection.Id);
            connection.Close(SocketCloseCodes.CredentialsExpired, "Credentials expired");
            return null;
        }

        return new Watcher(expiresAt.Value, connection, time, logger);
    }

    /// <summary>One timer; an expiry further away than a timer can wait (about 49 days) is reached in several waits.</summary>
    private sealed class Watcher : IDisposable
    {
        private static readonly TimeSpan s_longestWait = TimeSpan.FromDays(40);
        private readonly DateTimeOffset _expiresAt;
        private readonly SocketConnection _connection;
        private readonly TimeProvider _time;
        private readonly ILogger _logger;
        private readonly ITimer _timer;

        public Watcher(DateTimeOffset expiresAt, SocketConnection connection, TimeProvider time, ILogger logger)
        {
            _expiresAt = expiresAt;
            _connection = connection;
            _time = time;
            _logger = logger;
            _timer = time.CreateTimer(static state => ((Watcher)state!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            Arm();
        }

        public void Dispose() => _timer.Dispose();

        private void Arm()
        {
            var due = _expiresAt - _time.GetUtcNow();
            _timer.Change(due < TimeSpan.Zero ? TimeSpan.Zero : due > s_longestWait ? s_longestWait : due, Timeout.InfiniteTimeSpan);
        }

        private void Fire()
        {
            if (_time.GetUtcNow() < _expiresAt)
            {
                Arm();
                return;
            }

            SocketLog.CredentialsExpired(_logger, _connection.Id);
            _connection.Close(SocketCloseCodes.CredentialsExpired, "Credentials expired");
        }
    }
}

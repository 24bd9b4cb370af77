using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Ori.Sockets.Protocol;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets.Hosting;

/// <summary>The endpoint behind <c>MapOriSockets</c>: origin check, upgrade hook, handshake, then the connection's life.</summary>
internal sealed class SocketEndpointHandler(IOptions<OriSocketsOptions> options, ConnectionRegistry registry, ConnectionLifecycle lifecycle, UpgradeRateLimiter attempts, TimeProvider time, ILoggerFactory loggerFactory)
{
    private readonly OriSocketsOptions _options = options.Value;
    private readonly ILogger _logger = loggerFactory.CreateLogger(SocketLog.Category);

    public async Task HandleAsync(HttpContext http, ISocketEndpoint endpoint)
    {
        var upgrade = http.Features.Get<IHttpUpgradeFeature>();
        var (accepted, upgradeData) = upgrade is { IsUpgradableRequest: true } ? await AcceptAsync(http).ConfigureAwait(false) : await RefuseAsync(http).ConfigureAwait(false);
        if (!accepted)
        {
            return;
        }

        // The receive limit applies per message; the HTTP body limit must not cut a long-lived socket.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = null;
        }

        var stream = await upgrade!.UpgradeAsync().ConfigureAwait(false);
        await lifecycle.RunAsync(http, stream, upgradeData, endpoint).ConfigureAwait(false);
    }

    /// <summary>
    /// Decides an upgrade request, from the WebSocket headers to the upgrade hook. Accepted: the response carries the
    /// upgrade's headers (<c>Connection</c>, <c>Upgrade</c>, <c>Sec-WebSocket-Accept</c>) and the result what the hook
    /// attached; refused: the response's status, headers and body say why.
    /// </summary>
    public async ValueTask<(bool Accepted, object? Data)> AcceptAsync(HttpContext http)
    {
        var request = http.Request;
        if (!WebSocketHandshake.IsWebSocketRequest(request))
        {
            return await RefuseAsync(http).ConfigureAwait(false);
        }

        var accept = WebSocketHandshake.ComputeAccept(request);
        if (accept is null)
        {
            http.Response.StatusCode = StatusCodes.Status400BadRequest;
            http.Response.Headers.SecWebSocketVersion = "13";
            await http.Response.WriteAsync("A WebSocket upgrade needs Sec-WebSocket-Version 13 and a valid Sec-WebSocket-Key.").ConfigureAwait(false);
            return default;
        }

        if (!IsOriginAllowed(request))
        {
            SocketLog.OriginRefused(_logger, SocketLog.ClientText(request.Headers.Origin.ToString()));
            http.Response.StatusCode = StatusCodes.Status403Forbidden;
            return default;
        }

        if (registry.IsStopping)
        {
            http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return default;
        }

        if (!await attempts.TryAcquireAsync(http).ConfigureAwait(false))
        {
            return default;
        }

        object? upgradeData = null;
        if (_options.OnUpgrade is { } hook)
        {
            using var deadline = new CancellationTokenSource(_options.UpgradeTimeout, time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, http.RequestAborted);
            var context = new SocketUpgradeContext(http, timeout.Token);
            bool allowed;
            try
            {
                allowed = await hook(context).AsTask().WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !http.RequestAborted.IsCancellationRequested)
            {
                SocketLog.UpgradeTimedOut(_logger);
                http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                return default;
            }

            if (!allowed)
            {
                SocketLog.UpgradeRefused(_logger);
                http.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return default;
            }

            upgradeData = context.Data;
        }

        http.Response.Headers.Connection = HeaderNames.Upgrade;
        http.Response.Headers.Upgrade = "websocket";
        http.Response.Headers.SecWebSocketAccept = accept;
        return (true, upgradeData);
    }

    /// <summary>Answers a request that is not a WebSocket upgrade: 426.</summary>
    private static async ValueTask<(bool Accepted, object? Data)> RefuseAsync(HttpContext http)
    {
        http.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
        http.Response.Headers.Upgrade = "websocket";
        await http.Response.WriteAsync("This endpoint accepts WebSocket connections only.").ConfigureAwait(false);
        return default;
    }

    private bool IsOriginAllowed(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            // Not a browser: the Origin allow-list protects browsers' users, not other clients.
            return true;
        }

        origin = origin.TrimEnd('/');
        var allowed = _options.AllowedOrigins;
        if (allowed.Count == 0)
        {
            var self = $"{request.Scheme}://{request.Host.Value}";
            return string.Equals(origin, self, StringComparison.OrdinalIgnoreCase);
        }

        foreach (var entry in allowed)
        {
            if (entry == "*" || string.Equals(origin, entry.TrimEnd('/'), StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

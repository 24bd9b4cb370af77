using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets;
using Ori.Sockets.Hosting;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>Serves a Kestrel listener with Ori.Sockets from the transport up: the mode for many idle sockets.</summary>
public static class OriSocketsListenOptionsExtensions
{
    /// <summary>
    /// Serves every connection of this listener as an Ori.Sockets WebSocket with the endpoint <c>MapOriSockets()</c>
    /// maps (no connection guards; the routers no endpoint class serves). The listener speaks nothing else: it reads the
    /// HTTP/1.1 upgrade request itself (no middleware runs), authenticates it with the default authentication scheme,
    /// runs the origin check, the connection-rate limits and the upgrade hook, and keeps no HTTP objects once the
    /// connection is ready (<see cref="SocketContext.HttpContext"/> is null from <c>ori.ready</c> on). With TLS, call
    /// <c>UseHttps()</c> first; the listener's protocols are set to HTTP/1.1.
    /// </summary>
    /// <param name="listenOptions">The listener, in <c>ConfigureKestrel</c> or <c>UseKestrel</c>.</param>
    /// <param name="configure">Sets the path and the limits on the request head.</param>
    /// <returns><paramref name="listenOptions"/>.</returns>
    public static ListenOptions UseOriSockets(this ListenOptions listenOptions, Action<OriSocketsListenerOptions>? configure = null) =>
        Use(listenOptions, configure, static services => services.GetRequiredService<DefaultSocketEndpoint>(), []);

    /// <summary>
    /// Serves every connection of this listener as an Ori.Sockets WebSocket of the socket endpoint
    /// <typeparamref name="TEndpoint"/> (its connection guards run; <c>[Authorize]</c> on the class is evaluated on the
    /// upgrade request: 401 or 403 before any WebSocket exists). See <see cref="UseOriSockets(ListenOptions, Action{OriSocketsListenerOptions}?)"/>.
    /// </summary>
    /// <typeparam name="TEndpoint">The endpoint type, registered by <c>AddSocketRouters()</c>.</typeparam>
    /// <param name="listenOptions">The listener.</param>
    /// <param name="configure">Sets the path and the limits on the request head.</param>
    /// <returns><paramref name="listenOptions"/>.</returns>
    public static ListenOptions UseOriSockets<TEndpoint>(this ListenOptions listenOptions, Action<OriSocketsListenerOptions>? configure = null)
        where TEndpoint : class, ISocketEndpoint
    {
        var authorization = typeof(TEndpoint).GetCustomAttributes(inherit: true).Any(a => a is IAllowAnonymous)
            ? []
            : typeof(TEndpoint).GetCustomAttributes(inherit: true).OfType<IAuthorizeData>().ToArray();
        return Use(listenOptions, configure, static services => services.GetService<TEndpoint>()
            ?? throw new InvalidOperationException($"The socket endpoint {typeof(TEndpoint).Name} is not registered: call AddSocketRouters() (or AddEndpoint<{typeof(TEndpoint).Name}>()) on AddOriSockets()."), authorization);
    }

    private static ListenOptions Use(ListenOptions listenOptions, Action<OriSocketsListenerOptions>? configure, Func<IServiceProvider, ISocketEndpoint> endpoint, IAuthorizeData[] authorization)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        var options = new OriSocketsListenerOptions();
        configure?.Invoke(options);
        if (!options.Path.StartsWith('/'))
        {
            throw new ArgumentException($"The listener's path must start with '/' (got '{options.Path}').", nameof(configure));
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.RequestHeadersTimeout, TimeSpan.Zero, nameof(configure));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxRequestHeadersSize, 1024, nameof(configure));
        listenOptions.Protocols = HttpProtocols.Http1;
        listenOptions.Use(_ =>
        {
            // Built when the server starts: the application's services are there, and a missing registration fails the start.
            var services = listenOptions.ApplicationServices;
            if (services.GetService<SocketEndpointHandler>() is null)
            {
                throw new InvalidOperationException("Ori.Sockets is not registered: call builder.Services.AddOriSockets() before UseOriSockets().");
            }

            if (options.OwnTransport)
            {
                // Kestrel binds this very endpoint object right after it builds the pipeline: the transport takes it.
                services.GetRequiredService<SocketTransport>().Claim(listenOptions);
            }

            var listener = new SocketListener(services, endpoint(services), authorization, options);
            return listener.RunAsync;
        });
        return listenOptions;
    }
}

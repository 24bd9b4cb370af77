using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets;
using Ori.Sockets.Hosting;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the Ori.Sockets WebSocket endpoint.</summary>
public static class OriSocketsEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps a WebSocket endpoint with no connection guards at <paramref name="pattern"/>: it serves the routers that
    /// no <see cref="Ori.Sockets.SocketEndpointAttribute"/> class serves (and dispatchers added with <c>AddDispatcher</c>).
    /// It is an ordinary endpoint: <c>RequireAuthorization</c>, <c>RequireHost</c>, CORS and rate-limiting conventions
    /// apply to the upgrade request.
    /// </summary>
    /// <param name="endpoints">The application's endpoints.</param>
    /// <param name="pattern">The route pattern, <c>/ws</c> by default.</param>
    /// <returns>The endpoint's convention builder.</returns>
    /// <exception cref="InvalidOperationException"><c>AddOriSockets</c> was not called.</exception>
    public static IEndpointConventionBuilder MapOriSockets(this IEndpointRouteBuilder endpoints, string pattern = "/ws")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var handler = Handler(endpoints);
        var endpoint = endpoints.ServiceProvider.GetRequiredService<DefaultSocketEndpoint>();
        return endpoints.MapGet(pattern, http => handler.HandleAsync(http, endpoint)).WithDisplayName($"Ori.Sockets {pattern}");
    }

    /// <summary>
    /// Maps the socket endpoint <typeparamref name="TEndpoint"/> (a <see cref="Ori.Sockets.SocketEndpointAttribute"/>
    /// class, registered by <c>AddSocketRouters()</c>) at <paramref name="pattern"/>: its connection guards run for every
    /// connection, and only the routers it serves receive its messages. Endpoint conventions apply to the upgrade request.
    /// </summary>
    /// <typeparam name="TEndpoint">The endpoint type.</typeparam>
    /// <param name="endpoints">The application's endpoints.</param>
    /// <param name="pattern">The route pattern.</param>
    /// <returns>The endpoint's convention builder.</returns>
    /// <exception cref="InvalidOperationException"><c>AddOriSockets</c> was not called, or the endpoint type is not registered.</exception>
    public static IEndpointConventionBuilder MapOriSockets<TEndpoint>(this IEndpointRouteBuilder endpoints, string pattern)
        where TEndpoint : class, ISocketEndpoint
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var handler = Handler(endpoints);
        var endpoint = endpoints.ServiceProvider.GetService<TEndpoint>()
            ?? throw new InvalidOperationException($"The socket endpoint {typeof(TEndpoint).Name} is not registered: call AddSocketRouters() (or AddEndpoint<{typeof(TEndpoint).Name}>()) on AddOriSockets().");

        // [Authorize] on the endpoint class applies to the upgrade, as endpoint metadata: the authorization middleware
        // answers 401/403 before any WebSocket exists.
        var authorization = typeof(TEndpoint).GetCustomAttributes(inherit: true).Where(a => a is IAuthorizeData or IAllowAnonymous).ToArray();
        return endpoints.MapGet(pattern, http => handler.HandleAsync(http, endpoint))
            .WithMetadata(authorization)
            .WithDisplayName($"Ori.Sockets {typeof(TEndpoint).Name} {pattern}");
    }

    private static SocketEndpointHandler Handler(IEndpointRouteBuilder endpoints) =>
        endpoints.ServiceProvider.GetService<SocketEndpointHandler>()
            ?? throw new InvalidOperationException("Ori.Sockets is not registered: call builder.Services.AddOriSockets() before app.MapOriSockets().");

    /// <summary>
    /// Serves the browser client, an ES module with no dependencies, at <paramref name="path"/>, and its
    /// TypeScript typings at the same path with <c>.d.ts</c> instead of <c>.js</c>. A page imports it
    /// with <c>import { OriSocketClient } from "/_ori/ori-sockets-client.js"</c>: no build step.
    /// </summary>
    /// <param name="endpoints">The application's endpoints.</param>
    /// <param name="path">Where the module is served; it must end with <c>.js</c>.</param>
    /// <returns>The convention builder of both endpoints.</returns>
    public static IEndpointConventionBuilder MapOriSocketsBrowserClient(this IEndpointRouteBuilder endpoints, string path = "/_ori/ori-sockets-client.js")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!path.EndsWith(".js", StringComparison.Ordinal))
        {
            throw new ArgumentException("The path of the browser client must end with .js.", nameof(path));
        }

        var module = BrowserClientAsset.Load("ori-sockets-client.js", "text/javascript; charset=utf-8");
        var typings = BrowserClientAsset.Load("ori-sockets-client.d.ts", "text/plain; charset=utf-8");
        var builders = new[]
        {
            endpoints.MapGet(path, module.WriteAsync).WithDisplayName("Ori.Sockets browser client"),
            endpoints.MapGet(path[..^3] + ".d.ts", typings.WriteAsync).WithDisplayName("Ori.Sockets browser client typings"),
        };
        return new CompositeConventionBuilder(builders);
    }

    /// <summary>
    /// Serves the application's contracts, generated at build time from its messages and routes: the TypeScript module
    /// at <c>{prefix}/contracts.ts</c> (an interface per message, the <c>Routes</c> and <c>Pushes</c> maps a typed client takes)
    /// and the AsyncAPI 3.0 document at <c>{prefix}/asyncapi.json</c> (its server is the request's host; its channel, <paramref name="socketPath"/>).
    /// </summary>
    /// <param name="endpoints">The application.</param>
    /// <param name="prefix">Where they are served; default <c>/_ori</c>.</param>
    /// <param name="socketPath">The path of the WebSocket endpoint the document describes; default <c>/ws</c>.</param>
    /// <returns>The endpoints' conventions (authorization, caching...).</returns>
    /// <exception cref="InvalidOperationException">No contracts were generated: <c>AddSocketRouters()</c> was not called, or there are no routes.</exception>
    public static IEndpointConventionBuilder MapOriSocketsContracts(this IEndpointRouteBuilder endpoints, string prefix = "/_ori", string socketPath = "/ws")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        var contracts = endpoints.ServiceProvider.GetService<SocketContracts>()
            ?? throw new InvalidOperationException("No contracts to serve: call AddOriSockets().AddSocketRouters() in an application with [SocketRoute] handlers.");
        var module = BrowserClientAsset.From(contracts.TypeScript, "application/typescript; charset=utf-8");
        var root = prefix.TrimEnd('/');
        return new CompositeConventionBuilder(
        [
            endpoints.MapGet(root + "/contracts.ts", module.WriteAsync).WithDisplayName("Ori.Sockets contracts (TypeScript)"),
            endpoints.MapGet(root + "/asyncapi.json", (HttpContext context) => AsyncApiAsync(context, contracts.AsyncApi, socketPath)).WithDisplayName("Ori.Sockets contracts (AsyncAPI)"),
        ]);
    }

    /// <summary>The AsyncAPI document with its server set to the request's host and scheme, and its channel to the socket path.</summary>
    private static Task AsyncApiAsync(HttpContext context, string document, string socketPath)
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(document)!;
        json["servers"]!["app"]!["host"] = context.Request.Host.Value ?? "localhost";
        json["servers"]!["app"]!["protocol"] = context.Request.IsHttps ? "wss" : "ws";
        json["channels"]!["socket"]!["address"] = socketPath;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        return context.Response.WriteAsync(json.ToJsonString());
    }

    private sealed class CompositeConventionBuilder(IEndpointConventionBuilder[] builders) : IEndpointConventionBuilder
    {
        public void Add(Action<EndpointBuilder> convention)
        {
            foreach (var builder in builders)
            {
                builder.Add(convention);
            }
        }
    }
}

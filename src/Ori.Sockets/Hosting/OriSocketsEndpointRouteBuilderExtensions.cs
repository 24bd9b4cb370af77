using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Hosting;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the Ori.Sockets WebSocket endpoint.</summary>
public static class OriSocketsEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the WebSocket endpoint at <paramref name="pattern"/>. It is an ordinary endpoint:
    /// <c>RequireAuthorization</c>, <c>RequireHost</c>, CORS and rate-limiting conventions apply to the upgrade request.
    /// </summary>
    /// <param name="endpoints">The application's endpoints.</param>
    /// <param name="pattern">The route pattern, <c>/ws</c> by default.</param>
    /// <returns>The endpoint's convention builder.</returns>
    /// <exception cref="InvalidOperationException"><c>AddOriSockets</c> was not called.</exception>
    public static IEndpointConventionBuilder MapOriSockets(this IEndpointRouteBuilder endpoints, string pattern = "/ws")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var handler = endpoints.ServiceProvider.GetService<SocketEndpointHandler>()
            ?? throw new InvalidOperationException("Ori.Sockets is not registered: call builder.Services.AddOriSockets() before app.MapOriSockets().");
        return endpoints.MapGet(pattern, handler.HandleAsync).WithDisplayName($"Ori.Sockets {pattern}");
    }
}

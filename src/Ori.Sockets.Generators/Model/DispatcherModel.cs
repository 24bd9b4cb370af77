using System;
using System.Collections.Immutable;
using System.Linq;
using Ori.Sockets.Generators.Helpers;

namespace Ori.Sockets.Generators.Model;

/// <summary>
/// Everything the dispatch of a compilation needs: its valid routes (sorted by name, one per name; duplicates are
/// reported apart), the routers they belong to (one each), and its endpoints (sorted by name).
/// </summary>
internal sealed record DispatcherModel(EquatableArray<RouteModel> Routes, EquatableArray<RouterModel> Routers, EquatableArray<EndpointModel> Endpoints)
{
    public static DispatcherModel Build(ImmutableArray<RouteModel?> routes, ImmutableArray<RouterModel?> routers, ImmutableArray<EndpointModel?> endpoints)
    {
        var distinctRouters = routers.Where(r => r is not null)
            .Select(r => r!)
            .GroupBy(r => r.Fqn, StringComparer.Ordinal)
            .Select(g => g.First())
            .OrderBy(r => r.Fqn, StringComparer.Ordinal)
            .ToEquatableArray();
        var validRoutes = routes.Where(r => r is not null && distinctRouters.Any(router => router.Fqn == r.RouterFqn))
            .Select(r => r!)
            .OrderBy(r => r.RouteName, StringComparer.Ordinal)
            .ThenBy(r => r.RouterFqn, StringComparer.Ordinal)
            .ThenBy(r => r.MethodName, StringComparer.Ordinal)
            .GroupBy(r => r.RouteName, StringComparer.Ordinal)
            .Select(g => g.First())
            .ToEquatableArray();
        var sortedEndpoints = endpoints.Where(e => e is not null)
            .Select(e => e!)
            .OrderBy(e => e.Fqn, StringComparer.Ordinal)
            .ToEquatableArray();
        return new DispatcherModel(validRoutes, distinctRouters, sortedEndpoints);
    }

    /// <summary>Whether some endpoint serves the router (its routes are then not in the default table).</summary>
    public bool IsServed(string routerFqn) => Endpoints.Any(e => e.Routers.Contains(routerFqn));

    public RouterModel? Router(string fqn) => Routers.FirstOrDefault(r => r.Fqn == fqn);
}

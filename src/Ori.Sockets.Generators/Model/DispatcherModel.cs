using System;
using System.Collections.Immutable;
using System.Linq;
using Ori.Sockets.Generators.Helpers;

namespace Ori.Sockets.Generators.Model;

/// <summary>Every valid route of the compilation, sorted by name, one route per name (duplicates are reported apart).</summary>
internal sealed record DispatcherModel(EquatableArray<RouteModel> Routes)
{
    public static DispatcherModel Build(ImmutableArray<RouteModel?> routes) =>
        new(routes.Where(r => r is not null)
            .Select(r => r!)
            .OrderBy(r => r.RouteName, StringComparer.Ordinal)
            .ThenBy(r => r.RouterFqn, StringComparer.Ordinal)
            .ThenBy(r => r.MethodName, StringComparer.Ordinal)
            .GroupBy(r => r.RouteName, StringComparer.Ordinal)
            .Select(g => g.First())
            .ToEquatableArray());
}

using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Ori.Sockets.Generators.Diagnostics;
using Ori.Sockets.Generators.Helpers;
using Ori.Sockets.Generators.Model;

namespace Ori.Sockets.Generators.Parsing;

/// <summary>
/// Checks every handler that takes SocketContext&lt;TState&gt; against every endpoint that can send it messages: each
/// must have connection guards that set a state convertible to TState. A router no endpoint serves is served by
/// <c>MapOriSockets(pattern)</c>, which has no guards, so no state.
/// </summary>
internal static class EndpointStates
{
    public static void Report(SourceProductionContext output, ImmutableArray<StateUse?> uses, ImmutableArray<EndpointModel?> endpoints)
    {
        foreach (var use in uses)
        {
            if (use is null)
            {
                continue;
            }

            var serving = endpoints.Where(e => e is not null && e.Routers.Contains(use.RouterFqn)).Select(e => e!).ToList();
            var router = use.RouterFqn.Replace("global::", string.Empty);
            if (serving.Count == 0)
            {
                Report(output, use, $"no [SocketEndpoint] class serves {router}, so it is served by MapOriSockets(pattern), which runs no connection guard and sets no state; serve it from an endpoint whose connection guard derives from ConnectionGuard<{use.StateDisplay}>");
                continue;
            }

            foreach (var endpoint in serving)
            {
                if (endpoint.StateFqn is null)
                {
                    Report(output, use, $"{endpoint.Name} serves {router} and none of its connection guards derives from ConnectionGuard<TState>, so it sets no state");
                }
                else if (!endpoint.StateAssignableTo.Contains(use.StateFqn))
                {
                    Report(output, use, $"{endpoint.Name} serves {router} and its connection guards set the state to {endpoint.StateFqn.Replace("global::", string.Empty)}");
                }
            }
        }
    }

    /// <summary>[AllowAnonymous] where an endpoint that serves the handler has [Authorize] (it applies to the upgrade, so to every connection): ORI026.</summary>
    public static void ReportAnonymous(SourceProductionContext output, ImmutableArray<AnonymousUse?> uses, ImmutableArray<EndpointModel?> endpoints)
    {
        foreach (var use in uses)
        {
            if (use is null)
            {
                continue;
            }

            foreach (var endpoint in endpoints.Where(e => e is not null && e.RequiresAuthorization && e.Routers.Contains(use.RouterFqn)))
            {
                output.ReportDiagnostic(DiagnosticInfo.Create(DiagnosticDescriptors.ContradictoryAuthorization, use.Location, use.Handler,
                    $"it allows anonymous users, but {endpoint!.Name} serves it and has [Authorize], which applies to every connection it accepts; [AllowAnonymous] cannot lift it").ToDiagnostic());
            }
        }
    }

    private static void Report(SourceProductionContext output, StateUse use, string reason) =>
        output.ReportDiagnostic(DiagnosticInfo.Create(DiagnosticDescriptors.GuardStateMismatch, use.Location, use.Handler, use.StateDisplay, reason).ToDiagnostic());
}

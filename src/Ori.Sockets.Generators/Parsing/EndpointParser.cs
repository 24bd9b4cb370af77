using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Ori.Sockets.Generators.Diagnostics;
using Ori.Sockets.Generators.Helpers;
using Ori.Sockets.Generators.Model;

namespace Ori.Sockets.Generators.Parsing;

/// <summary>What parsing one [SocketEndpoint] class gave: its model (when valid) and its diagnostics.</summary>
internal sealed record EndpointResult(EndpointModel? Model, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>Parses a class marked [SocketEndpoint]: its routers, its guards, and the state its connection guards set.</summary>
internal static class EndpointParser
{
    public static EndpointResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var known = KnownTypes.For(context.SemanticModel.Compilation);
        var diagnostics = new List<DiagnosticInfo>();
        var display = type.ToDisplayString();
        var location = type.Locations.FirstOrDefault();

        if (!type.DeclaringSyntaxReferences.All(r => MessageParser.IsPartial(r.GetSyntax(cancellationToken))))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.EndpointNotPartial, location, display));
        }

        var problem = ShapeProblem(type);
        if (problem is not null)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnusableEndpoint, location, display, problem));
        }

        // The routers: every typeof() argument, each a class with at least one [SocketRoute] method.
        var routers = new List<string>();
        var attribute = context.Attributes[0];
        var arguments = (attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax)?.ArgumentList?.Arguments;
        var values = attribute.ConstructorArguments.FirstOrDefault();
        var routerTypes = values.Kind == TypedConstantKind.Array ? values.Values : System.Collections.Immutable.ImmutableArray.Create(values);
        for (var i = 0; i < routerTypes.Length; i++)
        {
            if (routerTypes[i].Value is not INamedTypeSymbol router)
            {
                continue;
            }

            var argumentLocation = arguments is { } list && i < list.Count ? list[i].GetLocation() : location;
            var hasRoutes = router.GetMembers().OfType<IMethodSymbol>()
                .Any(m => m.GetAttributes().Any(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, known.SocketRouteAttribute)));
            if (!hasRoutes)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotARouter, argumentLocation, type.Name, router.ToDisplayString()));
                continue;
            }

            var fqn = TypeParser.Fqn(router);
            if (!routers.Contains(fqn))
            {
                routers.Add(fqn);
            }
        }

        var connectionGuards = RouteParser.Guards(type, known.ConnectionGuardAttribute, known.IConnectionGuard, "connection guard", "IConnectionGuard", diagnostics, cancellationToken);
        var messageGuards = RouteParser.Guards(type, known.MessageGuardAttribute, known.IMessageGuard, "message guard", "IMessageGuard", diagnostics, cancellationToken);
        var (state, stateAssignableTo) = State(type, known, diagnostics, cancellationToken);
        if (diagnostics.Count > 0)
        {
            return new EndpointResult(null, diagnostics.ToEquatableArray());
        }

        var model = new EndpointModel(
            type.ContainingNamespace.IsGlobalNamespace ? string.Empty : type.ContainingNamespace.ToDisplayString(),
            type.Name,
            TypeParser.Fqn(type),
            routers.ToEquatableArray(),
            connectionGuards.ToEquatableArray(),
            messageGuards.ToEquatableArray(),
            state is null ? null : TypeParser.Fqn(state),
            stateAssignableTo,
            KnownTypes.Find(type, known.AuthorizeAttribute) is not null);
        return new EndpointResult(model, EquatableArray<DiagnosticInfo>.Empty);
    }

    private static string? ShapeProblem(INamedTypeSymbol type)
    {
        if (type.TypeKind != TypeKind.Class || type.IsRecord)
        {
            return "an endpoint is a class";
        }

        if (type.ContainingType is not null)
        {
            return "an endpoint cannot be nested in another type";
        }

        if (type.IsGenericType)
        {
            return "an endpoint cannot be generic";
        }

        if (type.IsAbstract || type.IsStatic)
        {
            return "an endpoint is created once for the application, so it cannot be abstract or static";
        }

        if (type.DeclaredAccessibility is not (Accessibility.Public or Accessibility.Internal))
        {
            return "an endpoint must be public or internal";
        }

        if (!type.InstanceConstructors.Any(c => c.Parameters.Length == 0 && c.DeclaredAccessibility is Accessibility.Public))
        {
            return "an endpoint needs a public parameterless constructor (its guards and routers get services, the endpoint does not)";
        }

        return null;
    }

    /// <summary>The state the connection guards set: the TState of each ConnectionGuard&lt;TState&gt; among them, which must agree.</summary>
    private static (ITypeSymbol? State, EquatableArray<string> AssignableTo) State(INamedTypeSymbol endpoint, KnownTypes known, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        ITypeSymbol? state = null;
        INamedTypeSymbol? stateGuard = null;
        foreach (var attribute in endpoint.GetAttributes().Where(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, known.ConnectionGuardAttribute)))
        {
            if (attribute.ConstructorArguments.FirstOrDefault().Value is not INamedTypeSymbol guard)
            {
                continue;
            }

            for (var baseType = guard.BaseType; baseType is not null; baseType = baseType.BaseType)
            {
                if (!SymbolEqualityComparer.Default.Equals(baseType.OriginalDefinition, known.ConnectionGuardOfT))
                {
                    continue;
                }

                var guardState = baseType.TypeArguments[0];
                if (state is null)
                {
                    (state, stateGuard) = (guardState, guard);
                }
                else if (!SymbolEqualityComparer.Default.Equals(state, guardState))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ConflictingGuardStates, MessageParser.ArgumentLocation(attribute, cancellationToken),
                        endpoint.Name, stateGuard!.Name, state.ToDisplayString(), guard.Name, guardState.ToDisplayString()));
                }

                break;
            }
        }

        if (state is null)
        {
            return (null, EquatableArray<string>.Empty);
        }

        var assignable = new List<string> { TypeParser.Fqn(state) };
        for (var baseType = state.BaseType; baseType is not null; baseType = baseType.BaseType)
        {
            assignable.Add(TypeParser.Fqn(baseType));
        }

        assignable.AddRange(state.AllInterfaces.Select(TypeParser.Fqn));
        return (state, assignable.Distinct().ToEquatableArray());
    }
}

/// <summary>Finds [ConnectionGuard] on classes that are not endpoints (routers included): connection guards belong to endpoints.</summary>
internal static class ConnectionGuardPlacement
{
    public static EquatableArray<DiagnosticInfo> Check(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var known = KnownTypes.For(context.SemanticModel.Compilation);
        if (type.GetAttributes().Any(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, known.SocketEndpointAttribute)))
        {
            return EquatableArray<DiagnosticInfo>.Empty;
        }

        return context.Attributes
            .Select(a => DiagnosticInfo.Create(DiagnosticDescriptors.ConnectionGuardOutsideEndpoint, MessageParser.ArgumentLocation(a, cancellationToken), type.ToDisplayString()))
            .ToEquatableArray();
    }
}

using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Ori.Sockets.Generators.Diagnostics;
using Ori.Sockets.Generators.Helpers;
using Ori.Sockets.Generators.Model;
using Ori.Sockets.Protocol;

namespace Ori.Sockets.Generators.Parsing;

/// <summary>
/// What parsing one [SocketRoute] method gave: the route (when valid) and its own diagnostics; its router (when
/// valid) and the router's diagnostics, the same for every route of the router, reported once; its name claim;
/// and the state it reads, checked against the endpoints that serve its router.
/// </summary>
internal sealed record RouteResult(
    RouteModel? Model,
    EquatableArray<DiagnosticInfo> Diagnostics,
    RouterModel? Router,
    EquatableArray<DiagnosticInfo> RouterDiagnostics,
    NameClaim? Claim,
    StateUse? State,
    AnonymousUse? Anonymous = null);

/// <summary>A handler that allows anonymous users ([AllowAnonymous] on it or its router): where, to check the endpoints that serve it.</summary>
internal sealed record AnonymousUse(string RouterFqn, string Handler, Location? Location);

/// <summary>A handler that takes SocketContext&lt;TState&gt;: where, so that a mismatch with an endpoint's state is reported on it.</summary>
internal sealed record StateUse(string RouterFqn, string Handler, string StateFqn, string StateDisplay, Location? Location);

/// <summary>Parses a method marked [SocketRoute] into a <see cref="RouteModel"/>.</summary>
internal static class RouteParser
{
    /// <summary>Why a name cannot be a route or message name, or null when it can (the protocol's own rules).</summary>
    public static string? NameProblem(string name)
    {
        if (!SocketNames.IsValidType(name.AsSpan()))
        {
            return "use " + SocketNames.TypeRule;
        }

        if (SocketNames.IsReservedType(name.AsSpan()))
        {
            return "names beginning with '" + WireNames.ReservedPrefix + "' and the built-in types " + string.Join(", ", WireNames.BuiltInTypes.Take(WireNames.BuiltInTypes.Length - 1)) + " and " + WireNames.BuiltInTypes.Last() + " are reserved";
        }

        return null;
    }

    public static RouteResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var method = (IMethodSymbol)context.TargetSymbol;
        var router = method.ContainingType;
        var known = KnownTypes.For(context.SemanticModel.Compilation);
        var diagnostics = new List<DiagnosticInfo>();
        var attribute = context.Attributes[0];
        var nameLocation = MessageParser.ArgumentLocation(attribute, cancellationToken) ?? method.Locations.FirstOrDefault();
        var routeName = attribute.ConstructorArguments.FirstOrDefault().Value as string ?? string.Empty;
        var handler = $"{router.Name}.{method.Name}";
        var claim = new NameClaim(routeName, handler, nameLocation);
        var methodLocation = method.Locations.FirstOrDefault();
        var returnLocation = (context.TargetNode as MethodDeclarationSyntax)?.ReturnType.GetLocation() ?? methodLocation;

        var nameProblem = NameProblem(routeName);
        if (nameProblem is not null)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidRouteName, nameLocation, routeName, nameProblem));
        }

        var (routerModel, routerDiagnostics) = ParseRouter(router, method, known, cancellationToken);
        if (method.IsGenericMethod)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.GenericHandler, methodLocation, handler));
        }

        if (method.DeclaredAccessibility is not (Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnusableParameter, methodLocation, method.Name, handler, "the handler must be public or internal so that generated code can call it"));
        }

        var parser = new TypeParser(known, cancellationToken);
        var parameters = new List<ParameterKind>();
        TypeModel? message = null;
        ITypeSymbol? messageSymbol = null;
        var contextKind = ContextKind.None;
        string? stateFqn = null;
        StateUse? stateUse = null;
        foreach (var parameter in method.Parameters)
        {
            var location = parameter.Locations.FirstOrDefault() ?? methodLocation;
            var type = parameter.Type;
            if (parameter.RefKind != RefKind.None)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnusableParameter, location, parameter.Name, handler, "ref, out and in parameters cannot be bound"));
            }
            else if (SymbolEqualityComparer.Default.Equals(type, known.SocketContext))
            {
                parameters.Add(ParameterKind.Context);
                contextKind = ContextKind.Untyped;
            }
            else if (type is INamedTypeSymbol { IsGenericType: true } generic && SymbolEqualityComparer.Default.Equals(generic.OriginalDefinition, known.SocketContextOfT))
            {
                parameters.Add(ParameterKind.Context);
                contextKind = ContextKind.Typed;
                stateFqn = TypeParser.Fqn(generic.TypeArguments[0]);
                stateUse = new StateUse(TypeParser.Fqn(router), handler, stateFqn, generic.TypeArguments[0].ToDisplayString(), location);
            }
            else if (SymbolEqualityComparer.Default.Equals(type, known.CancellationToken))
            {
                parameters.Add(ParameterKind.CancellationToken);
            }
            else if (message is not null || messageSymbol is not null)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnusableParameter, location, parameter.Name, handler,
                    "a handler takes one message parameter; the others may be SocketContext, SocketContext<TState> or CancellationToken"));
            }
            else
            {
                messageSymbol = type;
                message = parser.Classify(type, "$.data", location);
                parameters.Add(ParameterKind.Message);
            }
        }

        if (method.IsAsync && method.ReturnsVoid)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.AsyncVoidHandler, returnLocation, handler));
        }

        var (returnKind, replySymbol) = ClassifyReturn(method, known);
        TypeModel? reply = null;
        if (returnKind is null)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedReturn, returnLocation, handler, method.ReturnType.ToDisplayString()));
        }
        else if (replySymbol is not null)
        {
            reply = parser.Classify(replySymbol, $"the reply of {handler}", returnLocation);
        }

        CheckContract(messageSymbol, replySymbol, returnKind, routeName, handler, known, nameLocation, returnLocation, diagnostics, cancellationToken);
        var messageGuards = Guards(method, known.MessageGuardAttribute, known.IMessageGuard, "message guard", "IMessageGuard", diagnostics, cancellationToken);
        var rateLimit = RateLimit(method, handler, known, diagnostics, cancellationToken);
        var (authorization, anonymous) = Authorization(method, router, handler, known, diagnostics, cancellationToken);
        diagnostics.AddRange(parser.Diagnostics);
        var routerFqn = TypeParser.Fqn(router);
        if (diagnostics.Count > 0 || routerModel is null || returnKind is null || (messageSymbol is not null && message is null) || (replySymbol is not null && reply is null))
        {
            return new RouteResult(null, diagnostics.ToEquatableArray(), routerModel, routerDiagnostics, claim, stateUse, anonymous);
        }

        var model = new RouteModel(
            routeName,
            routerFqn,
            method.Name,
            method.IsStatic,
            parameters.ToEquatableArray(),
            message,
            contextKind,
            stateFqn,
            returnKind.Value,
            reply,
            messageGuards.ToEquatableArray(),
            parser.Shapes(),
            rateLimit,
            authorization);
        return new RouteResult(model, EquatableArray<DiagnosticInfo>.Empty, routerModel, routerDiagnostics, claim, stateUse, anonymous);
    }

    /// <summary>The router's own facts and problems: the same for each of its routes, so reported once.</summary>
    private static (RouterModel? Model, EquatableArray<DiagnosticInfo> Diagnostics) ParseRouter(INamedTypeSymbol router, IMethodSymbol method, KnownTypes known, CancellationToken cancellationToken)
    {
        var diagnostics = new List<DiagnosticInfo>();
        var problem = RouterProblem(router, method);
        if (problem is not null)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnusableRouter, router.Locations.FirstOrDefault(), router.ToDisplayString(), problem));
        }

        var guards = Guards(router, known.MessageGuardAttribute, known.IMessageGuard, "message guard", "IMessageGuard", diagnostics, cancellationToken);
        var rateLimit = RateLimit(router, router.ToDisplayString(), known, diagnostics, cancellationToken);
        var recoverable = RecoverableTopics(router, known, diagnostics, cancellationToken);
        if (diagnostics.Count > 0)
        {
            return (null, diagnostics.ToEquatableArray());
        }

        var constructorArguments = router.IsStatic ? EquatableArray<string>.Empty : ConstructorArguments(router);
        return (new RouterModel(TypeParser.Fqn(router), constructorArguments, guards.ToEquatableArray(), rateLimit, recoverable), EquatableArray<DiagnosticInfo>.Empty);
    }

    /// <summary>
    /// The [Authorize] data that applies to a handler (its router's, then its own), or none under [AllowAnonymous]; and
    /// combinations that contradict each other (ORI026): both on one symbol, or [Authorize] under a router's [AllowAnonymous].
    /// </summary>
    private static (EquatableArray<AuthorizeModel> Authorization, AnonymousUse? Anonymous) Authorization(IMethodSymbol method, INamedTypeSymbol router, string handler, KnownTypes known, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        if (known.AuthorizeAttribute is null)
        {
            return (EquatableArray<AuthorizeModel>.Empty, null);
        }

        var routeAnonymous = KnownTypes.Find(method, known.AllowAnonymousAttribute);
        var routerAnonymous = KnownTypes.Find(router, known.AllowAnonymousAttribute);
        var routeAuthorize = method.GetAttributes().Where(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, known.AuthorizeAttribute)).ToList();
        var routerAuthorize = router.GetAttributes().Where(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, known.AuthorizeAttribute)).ToList();
        Location? Where(AttributeData a) => a.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation();
        if (routeAnonymous is not null && routeAuthorize.Count > 0)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ContradictoryAuthorization, Where(routeAnonymous), handler, "it has both [AllowAnonymous] and [Authorize]; keep the one you mean"));
        }
        else if (routerAnonymous is not null && routerAuthorize.Count > 0)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ContradictoryAuthorization, Where(routerAnonymous), router.ToDisplayString(), "it has both [AllowAnonymous] and [Authorize]; keep the one you mean"));
        }
        else if (routerAnonymous is not null && routeAuthorize.Count > 0)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ContradictoryAuthorization, Where(routeAuthorize[0]), handler,
                $"its router {router.Name} has [AllowAnonymous], which would skip this [Authorize]; move [AllowAnonymous] to the handlers that need it"));
        }

        var anonymous = routeAnonymous ?? routerAnonymous;
        var use = anonymous is null ? null : new AnonymousUse(TypeParser.Fqn(router), handler, Where(anonymous));
        if (anonymous is not null)
        {
            return (EquatableArray<AuthorizeModel>.Empty, use);
        }

        static string? Named(AttributeData a, string name) => a.NamedArguments.FirstOrDefault(n => n.Key == name).Value.Value as string;
        var models = routerAuthorize.Concat(routeAuthorize)
            .Select(a => new AuthorizeModel(
                a.ConstructorArguments.FirstOrDefault().Value as string ?? Named(a, "Policy"),
                Named(a, "Roles"),
                Named(a, "AuthenticationSchemes")))
            .ToEquatableArray();
        return (models, null);
    }

    /// <summary>The [RecoverableTopic] declarations of a router: a valid topic or topic prefix followed by '*', bounds of at least 1.</summary>
    private static EquatableArray<RecoverableTopicModel> RecoverableTopics(INamedTypeSymbol router, KnownTypes known, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        if (known.RecoverableTopicAttribute is null)
        {
            return EquatableArray<RecoverableTopicModel>.Empty;
        }

        var models = new List<RecoverableTopicModel>();
        foreach (var attribute in router.GetAttributes().Where(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, known.RecoverableTopicAttribute)))
        {
            var pattern = attribute.ConstructorArguments.FirstOrDefault().Value as string ?? string.Empty;
            var maxMessages = attribute.NamedArguments.FirstOrDefault(a => a.Key == "MaxMessages").Value.Value is int m ? m : 100;
            var maxAge = attribute.NamedArguments.FirstOrDefault(a => a.Key == "MaxAgeSeconds").Value.Value is int s ? s : 600;
            var name = pattern.EndsWith("*", StringComparison.Ordinal) ? pattern.Substring(0, pattern.Length - 1) : pattern;
            string? problem = null;
            if (pattern.Length == 0 || (name.Length > 0 && !SocketNames.IsValidTopic(name.AsSpan())))
            {
                problem = $"the pattern must be a topic or a topic prefix followed by '*' ({SocketNames.TopicRule})";
            }
            else if (maxMessages < 1)
            {
                problem = "MaxMessages must be at least 1";
            }
            else if (maxAge < 1)
            {
                problem = "MaxAgeSeconds must be at least 1";
            }

            if (problem is not null)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidRecoverableTopic, MessageParser.ArgumentLocation(attribute, cancellationToken), pattern, router.ToDisplayString(), problem));
                continue;
            }

            models.Add(new RecoverableTopicModel(pattern, maxMessages, maxAge));
        }

        return models.ToEquatableArray();
    }

    /// <summary>A [RateLimit] on a route or a router: more than 0 permits a second, a burst of at least 1 (default: a second's worth).</summary>
    private static RateLimitModel? RateLimit(ISymbol owner, string display, KnownTypes known, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        var attribute = KnownTypes.Find(owner, known.RateLimitAttribute);
        if (attribute is null)
        {
            return null;
        }

        var permits = attribute.ConstructorArguments.FirstOrDefault().Value is double d ? d : 0;
        var burst = attribute.NamedArguments.FirstOrDefault(a => a.Key == "Burst").Value.Value is int b ? b : 0;
        string? problem = null;
        if (double.IsNaN(permits) || double.IsInfinity(permits) || permits <= 0)
        {
            problem = "its permits per second must be a number greater than 0";
        }
        else if (burst < 0 || (burst == 0 && attribute.NamedArguments.Any(a => a.Key == "Burst")))
        {
            problem = "its burst must be at least 1";
        }

        if (problem is not null)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidRateLimit, MessageParser.ArgumentLocation(attribute, cancellationToken), display, problem));
            return null;
        }

        return new RateLimitModel(permits, burst > 0 ? burst : Math.Max(1, (int)Math.Ceiling(permits)));
    }

    private static string? RouterProblem(INamedTypeSymbol router, IMethodSymbol method)
    {
        if (router.IsGenericType)
        {
            return "a router cannot be generic";
        }

        for (var type = router; type is not null; type = type.ContainingType)
        {
            if (type.DeclaredAccessibility is not (Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal))
            {
                return "a router and the types it is nested in must be public or internal";
            }
        }

        if (!method.IsStatic && router.IsAbstract)
        {
            return router.IsStatic ? "a static class can only have static handlers" : "an abstract class cannot be created";
        }

        if (!method.IsStatic && !router.InstanceConstructors.Any(c => c.DeclaredAccessibility is Accessibility.Public or Accessibility.Internal))
        {
            return "a router needs a public or internal constructor";
        }

        return null;
    }

    private static (ReturnKind? Kind, ITypeSymbol? Reply) ClassifyReturn(IMethodSymbol method, KnownTypes known)
    {
        var type = method.ReturnType;
        if (method.ReturnsVoid)
        {
            return (ReturnKind.Void, null);
        }

        if (SymbolEqualityComparer.Default.Equals(type, known.Task))
        {
            return (ReturnKind.Task, null);
        }

        if (SymbolEqualityComparer.Default.Equals(type, known.ValueTask))
        {
            return (ReturnKind.ValueTask, null);
        }

        if (type is INamedTypeSymbol { IsGenericType: true } generic)
        {
            if (SymbolEqualityComparer.Default.Equals(generic.OriginalDefinition, known.TaskOfT))
            {
                return (ReturnKind.TaskOfT, generic.TypeArguments[0]);
            }

            if (SymbolEqualityComparer.Default.Equals(generic.OriginalDefinition, known.ValueTaskOfT))
            {
                return (ReturnKind.ValueTaskOfT, generic.TypeArguments[0]);
            }
        }

        if (type.Name is "IAsyncEnumerable" or "IEnumerator" or "Task" or "ValueTask" || type.TypeKind == Microsoft.CodeAnalysis.TypeKind.Pointer)
        {
            return (null, null);
        }

        return (ReturnKind.Value, type);
    }

    private static void CheckContract(ITypeSymbol? message, ITypeSymbol? reply, ReturnKind? returnKind, string routeName, string handler, KnownTypes known, Location? location, Location? returnLocation, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        if (message is not INamedTypeSymbol named)
        {
            return;
        }

        var messageName = named.GetAttributes().FirstOrDefault(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, known.SocketMessageAttribute))?.ConstructorArguments.FirstOrDefault().Value as string;
        if (messageName is not null && messageName != routeName)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ContractMismatch, location, handler,
                $"the route is '{routeName}' but its message {named.Name} is declared as '{messageName}'; use the same name"));
        }

        var request = named.AllInterfaces.FirstOrDefault(i => SymbolEqualityComparer.Default.Equals(i.OriginalDefinition, known.ISocketRequest));
        if (request is null || returnKind is null)
        {
            return;
        }

        var expected = request.TypeArguments[0];
        if (reply is null || !SymbolEqualityComparer.Default.Equals(reply.WithNullableAnnotation(NullableAnnotation.NotAnnotated), expected.WithNullableAnnotation(NullableAnnotation.NotAnnotated)))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ContractMismatch, returnLocation, handler,
                $"{named.Name} is ISocketRequest<{expected.ToDisplayString()}> but the handler replies with {(reply is null ? "nothing" : reply.ToDisplayString())}"));
        }
    }

    internal static List<GuardModel> Guards(ISymbol owner, INamedTypeSymbol? attributeType, INamedTypeSymbol? guardInterface, string role, string interfaceName, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        var guards = new List<GuardModel>();
        foreach (var attribute in owner.GetAttributes().Where(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, attributeType)))
        {
            if (attribute.ConstructorArguments.FirstOrDefault().Value is not INamedTypeSymbol guard)
            {
                continue;
            }

            if (guardInterface is null || !guard.AllInterfaces.Contains(guardInterface, SymbolEqualityComparer.Default) || guard.IsAbstract)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidGuard, MessageParser.ArgumentLocation(attribute, cancellationToken), guard.ToDisplayString(), role,
                    guard.IsAbstract ? interfaceName + " (it is abstract)" : interfaceName));
                continue;
            }

            guards.Add(new GuardModel(TypeParser.Fqn(guard), ConstructorArguments(guard)));
        }

        return guards;
    }

    /// <summary>The service types of the constructor DI would pick: the public one with the most parameters.</summary>
    internal static EquatableArray<string> ConstructorArguments(INamedTypeSymbol type)
    {
        var constructor = type.InstanceConstructors
            .Where(c => c.DeclaredAccessibility is Accessibility.Public or Accessibility.Internal)
            .OrderByDescending(c => c.Parameters.Length)
            .FirstOrDefault();
        return constructor is null
            ? EquatableArray<string>.Empty
            : constructor.Parameters.Select(p => TypeParser.Fqn(p.Type)).ToEquatableArray();
    }
}

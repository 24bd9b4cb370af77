using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Ori.Sockets.Generators.Diagnostics;
using Ori.Sockets.Generators.Emitting;
using Ori.Sockets.Generators.Helpers;
using Ori.Sockets.Generators.Model;
using Ori.Sockets.Generators.Parsing;

namespace Ori.Sockets.Generators;

/// <summary>
/// Compiles [SocketMessage] types into serializers with fused validation, and [SocketRoute]
/// handlers into one dispatch table per compilation. Wiring only: logic lives in Parsing/ and Emitting/.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class OriSocketsGenerator : IIncrementalGenerator
{
    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var messages = context.SyntaxProvider
            .ForAttributeWithMetadataName(MetadataNames.SocketMessageAttribute, static (node, _) => node is TypeDeclarationSyntax, MessageParser.Parse)
            .WithTrackingName(TrackingNames.Messages);
        var messageModels = messages
            .Where(static r => r.Model is not null)
            .Select(static (r, _) => r.Model!)
            .WithTrackingName(TrackingNames.MessageModels);
        context.RegisterSourceOutput(messageModels, static (output, message) => output.AddSource(message.HintName, MessageEmitter.Emit(message)));

        var routes = context.SyntaxProvider
            .ForAttributeWithMetadataName(MetadataNames.SocketRouteAttribute, static (node, _) => node is MethodDeclarationSyntax, RouteParser.Parse)
            .WithTrackingName(TrackingNames.Routes);
        var endpoints = context.SyntaxProvider
            .ForAttributeWithMetadataName(MetadataNames.SocketEndpointAttribute, static (node, _) => node is TypeDeclarationSyntax, EndpointParser.Parse)
            .WithTrackingName(TrackingNames.Endpoints);
        var routeModels = routes
            .Select(static (r, _) => r.Model)
            .WithTrackingName(TrackingNames.RouteModels)
            .Collect();
        var routers = routes
            .Select(static (r, _) => r.Router)
            .WithTrackingName(TrackingNames.Routers)
            .Collect();
        var endpointModels = endpoints
            .Select(static (e, _) => e.Model)
            .WithTrackingName(TrackingNames.EndpointModels)
            .Collect();
        var dispatcher = routeModels
            .Combine(routers)
            .Combine(endpointModels)
            .Select(static (all, _) => DispatcherModel.Build(all.Left.Left, all.Left.Right, all.Right))
            .WithTrackingName(TrackingNames.Dispatcher);
        context.RegisterSourceOutput(dispatcher, static (output, model) =>
        {
            if (model.Routes.Count > 0 || model.Endpoints.Count > 0)
            {
                output.AddSource("OriSockets.Dispatcher.g.cs", DispatcherEmitter.Emit(model));
            }
        });

        // The application's contracts for clients in other languages: every message it can exchange (its own and its
        // contract assemblies'), every route, every push. Written where there are routes (the application, not a
        // contract library); the model compares by value, so an edit that changes no contract writes nothing again.
        var contracts = context.CompilationProvider
            .Select(static (compilation, cancellationToken) => ContractsParser.Scan(compilation, cancellationToken))
            .WithTrackingName(TrackingNames.Contracts);
        context.RegisterSourceOutput(dispatcher.Combine(contracts), static (output, all) =>
        {
            if (all.Left.Routes.Count > 0 || all.Left.Endpoints.Count > 0)
            {
                output.AddSource("OriSockets.Contracts.g.cs", ContractsEmitter.Emit(all.Right.Messages, all.Left.Routes, all.Right.Title));
            }
        });

        // The serializers of plain types, once per compilation, whatever number of messages and routes reach them.
        var sharedShapes = messageModels
            .Select(static (m, _) => m.Dependencies)
            .Collect()
            .Combine(routes.Select(static (r, _) => r.Model?.Dependencies ?? EquatableArray<ShapeModel>.Empty).Collect())
            .Select(static (all, _) => all.Left.Concat(all.Right).SelectMany(static d => d)
                .GroupBy(static s => s.Fqn, System.StringComparer.Ordinal)
                .Select(static g => g.First())
                .OrderBy(static s => s.Fqn, System.StringComparer.Ordinal)
                .ToEquatableArray())
            .WithTrackingName(TrackingNames.SharedSerializers);
        context.RegisterSourceOutput(sharedShapes, static (output, shapes) =>
        {
            if (shapes.Count > 0)
            {
                output.AddSource("OriSockets.Serializers.g.cs", SerializerEmitter.EmitShared(shapes));
            }
        });

        // Diagnostics travel apart from the models, with their real locations. A router's are the same from each
        // of its routes: reported once.
        context.RegisterSourceOutput(messages.Select(static (r, _) => r.Diagnostics), Report);
        context.RegisterSourceOutput(routes.Select(static (r, _) => r.Diagnostics), Report);
        context.RegisterSourceOutput(routes.Select(static (r, _) => r.RouterDiagnostics).Collect(), static (output, all) =>
        {
            foreach (var diagnostic in all.SelectMany(d => d).Distinct())
            {
                output.ReportDiagnostic(diagnostic.ToDiagnostic());
            }
        });
        context.RegisterSourceOutput(endpoints.Select(static (e, _) => e.Diagnostics), Report);
        var guardPlacement = context.SyntaxProvider
            .ForAttributeWithMetadataName(MetadataNames.ConnectionGuardAttribute, static (node, _) => node is TypeDeclarationSyntax, ConnectionGuardPlacement.Check);
        context.RegisterSourceOutput(guardPlacement, Report);
        context.RegisterSourceOutput(routes.Select(static (r, _) => r.State).Collect().Combine(endpointModels), static (output, all) => EndpointStates.Report(output, all.Left, all.Right));
        context.RegisterSourceOutput(routes.Select(static (r, _) => r.Anonymous).Collect().Combine(endpointModels), static (output, all) => EndpointStates.ReportAnonymous(output, all.Left, all.Right));
        context.RegisterSourceOutput(routes.Select(static (r, _) => r.Claim).Collect(), static (output, claims) => ReportDuplicates(output, claims, DiagnosticDescriptors.DuplicateRoute));
        context.RegisterSourceOutput(messages.Select(static (r, _) => r.Claim).Collect(), static (output, claims) => ReportDuplicates(output, claims, DiagnosticDescriptors.DuplicateMessageName));
    }

    private static void Report(SourceProductionContext output, EquatableArray<DiagnosticInfo> diagnostics)
    {
        foreach (var diagnostic in diagnostics)
        {
            output.ReportDiagnostic(diagnostic.ToDiagnostic());
        }
    }

    private static void ReportDuplicates(SourceProductionContext output, ImmutableArray<NameClaim?> claims, DiagnosticDescriptor descriptor)
    {
        foreach (var group in claims.Where(c => c is not null && c.Name.Length > 0).GroupBy(c => c!.Name, System.StringComparer.Ordinal))
        {
            var ordered = group.OrderBy(c => c!.Owner, System.StringComparer.Ordinal).ToList();
            for (var i = 1; i < ordered.Count; i++)
            {
                output.ReportDiagnostic(Diagnostic.Create(descriptor, ordered[i]!.Location, group.Key, ordered[0]!.Owner, ordered[i]!.Owner));
            }
        }
    }
}

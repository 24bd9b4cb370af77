using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Ori.Sockets.Generators.Diagnostics;
using Ori.Sockets.Generators.Helpers;
using Ori.Sockets.Generators.Model;

namespace Ori.Sockets.Generators.Parsing;

/// <summary>What parsing one [SocketMessage] type gave: a model (when valid), its diagnostics, and its name for duplicate checks.</summary>
internal sealed record MessageResult(MessageModel? Model, EquatableArray<DiagnosticInfo> Diagnostics, NameClaim? Claim);

/// <summary>A wire name claimed by a message or route, with where, to find duplicates across the compilation.</summary>
internal sealed record NameClaim(string Name, string Owner, Location? Location);

/// <summary>Parses a type marked [SocketMessage] into a <see cref="MessageModel"/>.</summary>
internal static class MessageParser
{
    public static MessageResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var known = KnownTypes.For(context.SemanticModel.Compilation);
        var diagnostics = new List<DiagnosticInfo>();
        var attribute = context.Attributes[0];
        var nameLocation = ArgumentLocation(attribute, cancellationToken) ?? type.Locations.FirstOrDefault();
        var wireName = attribute.ConstructorArguments.FirstOrDefault().Value as string ?? string.Empty;
        var display = type.ToDisplayString();

        var nameProblem = RouteParser.NameProblem(wireName);
        if (nameProblem is not null)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidMessageName, nameLocation, wireName, nameProblem));
        }

        var containing = new List<string>();
        var partial = IsPartial(context.TargetNode);
        for (var outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
        {
            partial &= outer.DeclaringSyntaxReferences.All(r => IsPartial(r.GetSyntax(cancellationToken)));
            containing.Insert(0, $"partial {Keyword(outer)} {outer.Name}");
        }

        if (!partial)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MessageNotPartial, type.Locations.FirstOrDefault(), display));
        }

        if (type.IsGenericType || type.IsAbstract || type.IsStatic)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidMessageType, type.Locations.FirstOrDefault(), display));
        }

        var parser = new TypeParser(known, cancellationToken);
        var fqn = TypeParser.Fqn(type);
        ShapeModel? shape = null;
        TypeModel? reply = null;
        if (!type.IsGenericType && !type.IsAbstract && !type.IsStatic)
        {
            parser.Classify(type, "$.data", type.Locations.FirstOrDefault(), forceShape: true);
            shape = parser.Shapes().FirstOrDefault(s => s.Fqn == fqn);

            // A request carries its reply's serializer, so that clients read replies without reflection.
            var request = type.AllInterfaces.FirstOrDefault(i => SymbolEqualityComparer.Default.Equals(i.OriginalDefinition, known.ISocketRequest));
            if (request is not null)
            {
                reply = parser.Classify(request.TypeArguments[0], $"the reply of {type.Name}", type.Locations.FirstOrDefault());
            }

            diagnostics.AddRange(parser.Diagnostics);
        }

        var claim = new NameClaim(wireName, display, nameLocation);
        if (diagnostics.Count > 0 || shape is null)
        {
            return new MessageResult(null, diagnostics.ToEquatableArray(), claim);
        }

        var model = new MessageModel(
            type.ContainingNamespace.IsGlobalNamespace ? string.Empty : type.ContainingNamespace.ToDisplayString(),
            containing.ToEquatableArray(),
            Keyword(type),
            type.Name,
            fqn,
            wireName,
            shape,
            parser.Shapes(except: fqn),
            parser.SchemaOnlyShapes(),
            reply);
        return new MessageResult(model, EquatableArray<DiagnosticInfo>.Empty, claim);
    }

    internal static Location? ArgumentLocation(AttributeData attribute, CancellationToken cancellationToken) =>
        attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) is AttributeSyntax { ArgumentList.Arguments.Count: > 0 } syntax
            ? syntax.ArgumentList.Arguments[0].GetLocation()
            : attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation();

    internal static bool IsPartial(SyntaxNode node) =>
        node is TypeDeclarationSyntax declaration && declaration.Modifiers.Any(SyntaxKind.PartialKeyword);

    private static string Keyword(INamedTypeSymbol type) =>
        (type.IsRecord, type.IsValueType) switch
        {
            (true, true) => "record struct",
            (true, false) => "record",
            (false, true) => "struct",
            _ => "class",
        };
}

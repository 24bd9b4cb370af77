using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Ori.Sockets.Generators.Helpers;
using Ori.Sockets.Generators.Model;

namespace Ori.Sockets.Generators.Parsing;

/// <summary>
/// Every [SocketMessage] an application can exchange: its own and those of the contract assemblies it references (the
/// ones that reference Ori.Sockets.Abstractions), read from their symbols with the same parser their serializers come
/// from, so that the TypeScript written from them says what the serializers accept.
/// </summary>
internal static class ContractsParser
{
    private const string AbstractionsAssembly = "Ori.Sockets.Abstractions";

    public static ContractsModel Scan(Compilation compilation, CancellationToken cancellationToken) =>
        new(compilation.AssemblyName ?? "Application", Messages(compilation, cancellationToken));

    private static EquatableArray<ContractMessageModel> Messages(Compilation compilation, CancellationToken cancellationToken)
    {
        var known = KnownTypes.For(compilation);
        if (known.SocketMessageAttribute is null)
        {
            return EquatableArray<ContractMessageModel>.Empty;
        }

        var found = new List<INamedTypeSymbol>();
        var assemblies = new List<IAssemblySymbol> { compilation.Assembly };
        assemblies.AddRange(compilation.SourceModule.ReferencedAssemblySymbols.Where(a =>
            a.Modules.Any(m => m.ReferencedAssemblies.Any(r => r.Name == AbstractionsAssembly))));
        foreach (var assembly in assemblies)
        {
            Collect(assembly.GlobalNamespace, known.SocketMessageAttribute, found, own: SymbolEqualityComparer.Default.Equals(assembly, compilation.Assembly), cancellationToken);
        }

        var messages = new List<ContractMessageModel>();
        foreach (var type in found.OrderBy(t => t.ToDisplayString(), StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var attribute = type.GetAttributes().First(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, known.SocketMessageAttribute));
            var wireName = attribute.ConstructorArguments.FirstOrDefault().Value as string ?? string.Empty;
            if (wireName.Length == 0 || type.IsGenericType || type.IsAbstract || type.IsStatic)
            {
                continue;
            }

            var parser = new TypeParser(known, cancellationToken);
            var fqn = TypeParser.Fqn(type);
            parser.Classify(type, "$.data", null, forceShape: true);
            var request = type.AllInterfaces.FirstOrDefault(i => SymbolEqualityComparer.Default.Equals(i.OriginalDefinition, known.ISocketRequest));
            var reply = request is null ? null : parser.Classify(request.TypeArguments[0], "$.data", null);
            var shapes = parser.Shapes().Concat(parser.SchemaOnlyShapes()).ToList();
            var shape = shapes.FirstOrDefault(s => s.Fqn == fqn);
            if (shape is null || parser.Diagnostics.Count > 0)
            {
                // Its own compilation reports what is wrong with it; nothing half-right is written.
                continue;
            }

            messages.Add(new ContractMessageModel(wireName, fqn, reply, shapes.ToEquatableArray()));
        }

        return messages.ToEquatableArray();
    }

    private static void Collect(INamespaceSymbol space, INamedTypeSymbol attribute, List<INamedTypeSymbol> found, bool own, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        foreach (var member in space.GetMembers())
        {
            if (member is INamespaceSymbol inner)
            {
                Collect(inner, attribute, found, own, cancellationToken);
            }
            else if (member is INamedTypeSymbol type)
            {
                CollectType(type, attribute, found, own);
            }
        }
    }

    private static void CollectType(INamedTypeSymbol type, INamedTypeSymbol attribute, List<INamedTypeSymbol> found, bool own)
    {
        // Another assembly's messages are usable when public; this compilation's, when not private.
        if (own ? type.DeclaredAccessibility == Accessibility.Private : type.DeclaredAccessibility != Accessibility.Public)
        {
            return;
        }

        if (type.GetAttributes().Any(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, attribute)))
        {
            found.Add(type);
        }

        foreach (var nested in type.GetTypeMembers())
        {
            CollectType(nested, attribute, found, own);
        }
    }
}

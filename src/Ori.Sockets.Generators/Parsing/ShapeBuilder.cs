using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;
using Ori.Sockets.Generators.Diagnostics;
using Ori.Sockets.Generators.Helpers;
using Ori.Sockets.Generators.Model;

namespace Ori.Sockets.Generators.Parsing;

/// <summary>
/// Builds the shapes serializers are written from: an enum's names, an object's members (classified by the
/// <see cref="TypeParser"/>, with their rules from the <see cref="ConstraintParser"/>), the constructor that
/// creates it, and how each member that is not a constructor argument is set.
/// </summary>
internal sealed class ShapeBuilder
{
    private readonly TypeParser _parser;
    private readonly List<DiagnosticInfo> _diagnostics;
    private readonly ConstraintParser _constraints;

    public ShapeBuilder(TypeParser parser, List<DiagnosticInfo> diagnostics)
    {
        _parser = parser;
        _diagnostics = diagnostics;
        _constraints = new ConstraintParser(parser.Known, diagnostics, parser.CancellationToken);
    }

    /// <summary>An enum's shape: its members and their JSON names.</summary>
    public ShapeModel Enum(INamedTypeSymbol type, string fqn)
    {
        var members = type.GetMembers().OfType<IFieldSymbol>().Where(f => f.HasConstantValue)
            .Select(f => new EnumMemberModel(f.Name, AttributeString(f, _parser.Known.JsonStringEnumMemberName) ?? f.Name.ToCamelCase()))
            .ToEquatableArray();
        return new ShapeModel(fqn, type.Name, true, true, EquatableArray<MemberModel>.Empty, 0, members);
    }

    /// <summary>An object type's shape: its serialized members (each classified by the parser), its constructor, how each member is set.</summary>
    public ShapeModel Object(INamedTypeSymbol type, string fqn, string path, Location? location)
    {
        var properties = new List<IPropertySymbol>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var current = type; current is not null && current.SpecialType != SpecialType.System_Object && current.SpecialType != SpecialType.System_ValueType; current = current.BaseType)
        {
            foreach (var property in current.GetMembers().OfType<IPropertySymbol>())
            {
                if (property is { IsStatic: false, IsIndexer: false, DeclaredAccessibility: Accessibility.Public, GetMethod.DeclaredAccessibility: Accessibility.Public }
                    && KnownTypes.Find(property, _parser.Known.JsonIgnore) is null
                    && seen.Add(property.Name))
                {
                    properties.Add(property);
                }
            }
        }

        var constructor = ChooseConstructor(type, properties);
        var members = new List<MemberModel>();
        var jsonNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in properties)
        {
            var memberLocation = property.Locations.FirstOrDefault(l => l.IsInSource) ?? location;
            var parameterIndex = constructor is null ? -1 : IndexOfParameter(constructor, property.Name);
            var parameter = parameterIndex >= 0 ? constructor!.Parameters[parameterIndex] : null;
            var jsonName = AttributeString(property, _parser.Known.JsonPropertyName) ?? property.Name.ToCamelCase();
            if (!jsonNames.Add(jsonName))
            {
                _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DuplicateJsonName, memberLocation, type.ToDisplayString(), jsonName, $"{path}.{jsonName}"));
                continue;
            }

            var memberType = _parser.Classify(property.Type, $"{path}.{jsonName}", memberLocation);
            if (memberType is null)
            {
                continue;
            }

            var canRead = parameterIndex >= 0 || property.SetMethod is { DeclaredAccessibility: Accessibility.Public };
            var constraints = _constraints.Parse(property, parameter, memberType, $"{type.Name}.{property.Name}", memberLocation);
            var nonNullableReference = memberType.IsReferenceType && !memberType.NullableReference && property.Type.NullableAnnotation == NullableAnnotation.NotAnnotated;
            // Required: `required` members, [Required], non-nullable references that are read, and constructor
            // parameters without a default whose type cannot be null (a missing value is never silently zero).
            var nonNullableParameter = parameter is { HasExplicitDefaultValue: false } && memberType.Kind != SerialKind.NullableValue && !memberType.NullableReference
                && (!memberType.IsReferenceType || property.Type.NullableAnnotation == NullableAnnotation.NotAnnotated);
            // A non-nullable reference set by an accessor is required unless its declaration gives it a value.
            var optionalByInitializer = parameter is null && !property.IsRequired && HasInitializerOrUnknown(property);
            var required = property.IsRequired || constraints.Required || (nonNullableReference && canRead && parameter?.HasExplicitDefaultValue != true && !optionalByInitializer) || nonNullableParameter;
            var setter = parameterIndex >= 0 ? SetterKind.None
                : property.IsRequired ? SetterKind.RequiredMember
                : property.SetMethod is { DeclaredAccessibility: Accessibility.Public, IsInitOnly: true } ? SetterKind.Init
                : property.SetMethod is { DeclaredAccessibility: Accessibility.Public } ? SetterKind.Set
                : SetterKind.None;
            var defaultLiteral = parameter is { HasExplicitDefaultValue: true } ? Literal(parameter.ExplicitDefaultValue, parameter.Type) : null;
            members.Add(new MemberModel(property.Name, jsonName, memberType, required, canRead, parameterIndex, defaultLiteral, constraints, setter, TypeParser.Fqn(property.ContainingType)));
        }

        if (constructor is null && !type.IsValueType)
        {
            _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotConstructible, type.Locations.FirstOrDefault(l => l.IsInSource) ?? location, type.ToDisplayString(),
                "it needs a public constructor whose parameters all match public properties by name, or a public parameterless one"));
        }

        return new ShapeModel(fqn, type.Name, false, type.IsValueType, members.ToEquatableArray(), constructor?.Parameters.Length ?? 0, EquatableArray<EnumMemberModel>.Empty);
    }

    private static IMethodSymbol? ChooseConstructor(INamedTypeSymbol type, List<IPropertySymbol> properties)
    {
        // The public constructor with the most parameters that all match properties (a record's
        // primary constructor), else the parameterless one; copy constructors are not candidates.
        IMethodSymbol? best = null;
        foreach (var constructor in type.InstanceConstructors)
        {
            if (constructor.DeclaredAccessibility != Accessibility.Public
                || (constructor.Parameters.Length == 1 && SymbolEqualityComparer.Default.Equals(constructor.Parameters[0].Type, type)))
            {
                continue;
            }

            if (constructor.Parameters.All(p => properties.Any(m => string.Equals(m.Name, p.Name, StringComparison.OrdinalIgnoreCase)))
                && (best is null || constructor.Parameters.Length > best.Parameters.Length))
            {
                best = constructor;
            }
        }

        return best;
    }

    private static int IndexOfParameter(IMethodSymbol constructor, string name)
    {
        for (var i = 0; i < constructor.Parameters.Length; i++)
        {
            if (string.Equals(constructor.Parameters[i].Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Whether the property's declaration has an initializer; true when it is not in source (unknown).</summary>
    private bool HasInitializerOrUnknown(IPropertySymbol property)
    {
        if (property.DeclaringSyntaxReferences.IsEmpty)
        {
            return true;
        }

        return property.DeclaringSyntaxReferences.Any(r => r.GetSyntax(_parser.CancellationToken) is Microsoft.CodeAnalysis.CSharp.Syntax.PropertyDeclarationSyntax { Initializer: not null });
    }

    private static string? AttributeString(ISymbol symbol, INamedTypeSymbol? attribute) =>
        KnownTypes.Find(symbol, attribute)?.ConstructorArguments.FirstOrDefault().Value as string;

    private static string? Literal(object? value, ITypeSymbol type) => value switch
    {
        null => "default",
        string s => s.ToLiteral(),
        bool b => b ? "true" : "false",
        char c => Microsoft.CodeAnalysis.CSharp.SymbolDisplay.FormatLiteral(c, quote: true),
        _ when type.TypeKind == Microsoft.CodeAnalysis.TypeKind.Enum => $"({TypeParser.Fqn(type)})({Convert.ToString(value, CultureInfo.InvariantCulture)})",
        _ => $"({TypeParser.Fqn(type)})({Convert.ToString(value, CultureInfo.InvariantCulture)})",
    };
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using Microsoft.CodeAnalysis;
using Ori.Sockets.Generators.Diagnostics;
using Ori.Sockets.Generators.Helpers;
using Ori.Sockets.Generators.Model;

namespace Ori.Sockets.Generators.Parsing;

/// <summary>
/// Turns C# types into serializer models: which built-in, collection or generated serializer each
/// member needs, with its data-annotation rules. Collects every shape to generate and every
/// problem (ORI007, ORI008, ORI009, ORI016) with the location at fault.
/// </summary>
/// <remarks>
/// One parse serves the serializer and the schema: a message reached from another keeps its own serializer
/// (<see cref="SerialKind.Message"/>), and its shape is also read, as a schema-only shape, so that the schema
/// can describe it member by member. Shapes first reached only through such a message are schema-only too,
/// until a serializer needs them. Shapes are built by <see cref="ShapeBuilder"/>, member rules by
/// <see cref="ConstraintParser"/>.
/// </remarks>
/// <param name="known">The compilation's well-known types.</param>
/// <param name="cancellationToken">Cancels the parse.</param>
internal sealed class TypeParser(KnownTypes known, CancellationToken cancellationToken)
{
    private static readonly SymbolDisplayFormat s_fqn = SymbolDisplayFormat.FullyQualifiedFormat
        .WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.UseSpecialTypes | SymbolDisplayMiscellaneousOptions.EscapeKeywordIdentifiers);

    private readonly Dictionary<string, ShapeModel?> _shapes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _schemaOnly = new(StringComparer.Ordinal);
    private readonly List<DiagnosticInfo> _diagnostics = [];
    private ShapeBuilder? _builder;
    private int _insideMessage;

    public List<DiagnosticInfo> Diagnostics => _diagnostics;

    public KnownTypes Known => known;

    public CancellationToken CancellationToken => cancellationToken;

    private ShapeBuilder Builder => _builder ??= new ShapeBuilder(this, _diagnostics);

    /// <summary>The shapes serializers need, in a stable order.</summary>
    public EquatableArray<ShapeModel> Shapes(string? except = null) =>
        _shapes.Where(p => p.Value is not null && p.Key != except && !_schemaOnly.Contains(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Value!).ToEquatableArray();

    /// <summary>The shapes only the schema needs: messages reached from the root, and what only they reach.</summary>
    public EquatableArray<ShapeModel> SchemaOnlyShapes() =>
        _shapes.Where(p => p.Value is not null && _schemaOnly.Contains(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Value!).ToEquatableArray();

    public static string Fqn(ITypeSymbol type) =>
        type.WithNullableAnnotation(NullableAnnotation.NotAnnotated).ToDisplayString(s_fqn);

    /// <summary>Whether the type has (or will get from this generator) a public static serializer.</summary>
    public bool IsMessage(ITypeSymbol type)
    {
        if (type is not INamedTypeSymbol named)
        {
            return false;
        }

        if (known.ISocketMessage is not null && named.AllInterfaces.Any(i => SymbolEqualityComparer.Default.Equals(i.OriginalDefinition, known.ISocketMessage)))
        {
            return true;
        }

        // A partial [SocketMessage] type of this compilation: the generator adds ISocketMessage to it.
        return named.Locations.Any(l => l.IsInSource)
            && named.GetAttributes().Any(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, known.SocketMessageAttribute))
            && named.DeclaringSyntaxReferences.Any(r => r.GetSyntax(cancellationToken) is Microsoft.CodeAnalysis.CSharp.Syntax.TypeDeclarationSyntax t
                && t.Modifiers.Any(m => m.Text == "partial"));
    }

    /// <summary>Classifies a type; null when it cannot be serialized (a diagnostic says why).</summary>
    public TypeModel? Classify(ITypeSymbol type, string path, Location? location, bool forceShape = false)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var nullableReference = type.IsReferenceType && type.NullableAnnotation != NullableAnnotation.NotAnnotated;
        var fqn = Fqn(type);

        if (type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable)
        {
            var inner = Classify(nullable.TypeArguments[0], path, location);
            return inner is null ? null : new TypeModel(SerialKind.NullableValue, fqn, inner.Name, inner, false, false, inner.IsNumeric);
        }

        var builtin = BuiltinName(type);
        if (builtin is not null)
        {
            var numeric = type.SpecialType is >= SpecialType.System_SByte and <= SpecialType.System_Double || type.SpecialType == SpecialType.System_Decimal;
            return new TypeModel(SerialKind.Builtin, fqn, builtin, null, nullableReference, type.IsReferenceType, numeric);
        }

        if (type.TypeKind == Microsoft.CodeAnalysis.TypeKind.Enum && type is INamedTypeSymbol enumType)
        {
            Register(fqn, () => Builder.Enum(enumType, fqn));
            return new TypeModel(SerialKind.Enum, fqn, type.Name, null, false, false, false);
        }

        if (type is IArrayTypeSymbol array)
        {
            if (array.Rank != 1)
            {
                return Unserializable(type, path, location, "only single-dimension arrays are supported");
            }

            var element = Classify(array.ElementType, path + "[]", location);
            return element is null ? null : new TypeModel(SerialKind.Array, fqn, type.Name, element, nullableReference, true, false);
        }

        if (type is INamedTypeSymbol { IsGenericType: true } generic)
        {
            var definition = generic.OriginalDefinition;
            if (SymbolEqualityComparer.Default.Equals(definition, known.List) || known.ListInterfaces.Any(i => SymbolEqualityComparer.Default.Equals(definition, i)))
            {
                var element = Classify(generic.TypeArguments[0], path + "[]", location);
                var isInterface = !SymbolEqualityComparer.Default.Equals(definition, known.List);
                return element is null ? null : new TypeModel(SerialKind.List, fqn, type.Name, element, nullableReference, true, false, isInterface);
            }

            if (SymbolEqualityComparer.Default.Equals(definition, known.Dictionary)
                || SymbolEqualityComparer.Default.Equals(definition, known.IDictionary)
                || SymbolEqualityComparer.Default.Equals(definition, known.IReadOnlyDictionary))
            {
                if (generic.TypeArguments[0].SpecialType != SpecialType.System_String)
                {
                    return Unserializable(type, path, location, "dictionary keys must be strings (JSON object member names)");
                }

                var value = Classify(generic.TypeArguments[1], path + "{}", location);
                var isInterface = !SymbolEqualityComparer.Default.Equals(definition, known.Dictionary);
                return value is null ? null : new TypeModel(SerialKind.Dictionary, fqn, type.Name, value, nullableReference, true, false, isInterface);
            }
        }

        if (!forceShape && IsMessage(type))
        {
            ReadMessageForSchema((INamedTypeSymbol)type, fqn, path, location);
            return new TypeModel(SerialKind.Message, fqn, type.Name, null, nullableReference, type.IsReferenceType, false);
        }

        var problem = WhyNotAnObject(type);
        if (problem is not null)
        {
            return Unserializable(type, path, location, problem);
        }

        var named = (INamedTypeSymbol)type;
        Register(fqn, () => Builder.Object(named, fqn, path, location));
        return new TypeModel(SerialKind.Object, fqn, type.Name, null, nullableReference, type.IsReferenceType, false);
    }

    /// <summary>
    /// Builds a shape once: reserved first, so that a type that contains itself does not recurse forever. A shape
    /// reached inside a message that has its own serializer is schema-only; reached outside one, it (and all it
    /// reaches) is needed by a serializer.
    /// </summary>
    private void Register(string fqn, Func<ShapeModel?> build)
    {
        if (_shapes.ContainsKey(fqn))
        {
            if (_insideMessage == 0)
            {
                Promote(fqn);
            }

            return;
        }

        _shapes[fqn] = null;
        if (_insideMessage > 0)
        {
            _schemaOnly.Add(fqn);
        }

        _shapes[fqn] = build();
    }

    private void Promote(string fqn)
    {
        if (!_schemaOnly.Remove(fqn) || !_shapes.TryGetValue(fqn, out var shape) || shape is null)
        {
            return;
        }

        foreach (var member in shape.Members)
        {
            for (var type = member.Type; type is not null; type = type.Element)
            {
                if (type.Kind is SerialKind.Object or SerialKind.Enum)
                {
                    Promote(type.Fqn);
                }
            }
        }
    }

    /// <summary>
    /// A message reached from another is described by the schema member by member; its own problems are reported
    /// by its own parse, so those found here are dropped (and so is its schema shape).
    /// </summary>
    private void ReadMessageForSchema(INamedTypeSymbol type, string fqn, string path, Location? location)
    {
        if (_shapes.ContainsKey(fqn) || WhyNotAnObject(type) is not null)
        {
            return;
        }

        var diagnosticsBefore = _diagnostics.Count;
        _insideMessage++;
        try
        {
            _shapes[fqn] = null;
            _schemaOnly.Add(fqn);
            _shapes[fqn] = Builder.Object(type, fqn, path, location);
        }
        finally
        {
            _insideMessage--;
        }

        if (_diagnostics.Count > diagnosticsBefore)
        {
            _diagnostics.RemoveRange(diagnosticsBefore, _diagnostics.Count - diagnosticsBefore);
            _shapes[fqn] = null;
        }
    }

    private TypeModel? Unserializable(ITypeSymbol type, string path, Location? location, string reason)
    {
        _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnserializableMember, location, type.ToDisplayString(), path, reason));
        return null;
    }

    private string? WhyNotAnObject(ITypeSymbol type)
    {
        switch (type)
        {
            case { SpecialType: SpecialType.System_Object }:
                return "object carries no shape; use a concrete type";
            case IDynamicTypeSymbol:
                return "dynamic carries no shape; use a concrete type";
            case IPointerTypeSymbol or IFunctionPointerTypeSymbol:
                return "pointers cannot be serialized";
            case ITypeParameterSymbol:
                return "generic type parameters cannot be serialized; use a concrete type";
            case INamedTypeSymbol { TypeKind: Microsoft.CodeAnalysis.TypeKind.Delegate }:
                return "delegates cannot be serialized";
            case INamedTypeSymbol { TypeKind: Microsoft.CodeAnalysis.TypeKind.Interface }:
                return "interfaces carry no shape; use a concrete type";
            case INamedTypeSymbol { IsAbstract: true, TypeKind: Microsoft.CodeAnalysis.TypeKind.Class }:
                return "abstract classes cannot be created; use a concrete type";
            case INamedTypeSymbol { IsRefLikeType: true }:
                return "ref structs cannot be serialized";
            case INamedTypeSymbol { IsGenericType: true }:
                return "generic types other than lists and string-keyed dictionaries are not supported";
            case INamedTypeSymbol named when named.SpecialType != SpecialType.None || named.ContainingNamespace?.ToDisplayString().StartsWith("System", StringComparison.Ordinal) == true:
                return "this framework type has no JSON form in Ori.Sockets";
            case INamedTypeSymbol named when !IsAccessible(named):
                return "the type must be public or internal";
            case INamedTypeSymbol:
                return null;
            default:
                return "this kind of type cannot be serialized";
        }
    }

    private static bool IsAccessible(INamedTypeSymbol type)
    {
        for (ISymbol? symbol = type; symbol is INamedTypeSymbol; symbol = symbol.ContainingType)
        {
            if (symbol.DeclaredAccessibility is not (Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal))
            {
                return false;
            }
        }

        return true;
    }

    private string? BuiltinName(ITypeSymbol type)
    {
        switch (type.SpecialType)
        {
            case SpecialType.System_String: return "String";
            case SpecialType.System_Boolean: return "Boolean";
            case SpecialType.System_Byte: return "Byte";
            case SpecialType.System_SByte: return "SByte";
            case SpecialType.System_Int16: return "Int16";
            case SpecialType.System_UInt16: return "UInt16";
            case SpecialType.System_Int32: return "Int32";
            case SpecialType.System_UInt32: return "UInt32";
            case SpecialType.System_Int64: return "Int64";
            case SpecialType.System_UInt64: return "UInt64";
            case SpecialType.System_Single: return "Single";
            case SpecialType.System_Double: return "Double";
            case SpecialType.System_Decimal: return "Decimal";
            case SpecialType.System_Char: return "Char";
            case SpecialType.System_DateTime: return "DateTime";
        }

        foreach (var (symbol, name) in known.Named)
        {
            if (symbol is not null && SymbolEqualityComparer.Default.Equals(type, symbol))
            {
                return name;
            }
        }

        return null;
    }
}

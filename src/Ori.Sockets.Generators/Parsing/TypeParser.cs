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
/// <param name="known">The compilation's well-known types.</param>
/// <param name="cancellationToken">Cancels the parse.</param>
/// <param name="expandMessages">Describe message types member by member instead of referring to their own serializer (for schemas).</param>
internal sealed class TypeParser(KnownTypes known, CancellationToken cancellationToken, bool expandMessages = false)
{
    private static readonly SymbolDisplayFormat s_fqn = SymbolDisplayFormat.FullyQualifiedFormat
        .WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.UseSpecialTypes | SymbolDisplayMiscellaneousOptions.EscapeKeywordIdentifiers);

    private readonly Dictionary<string, ShapeModel?> _shapes = new(StringComparer.Ordinal);
    private readonly List<DiagnosticInfo> _diagnostics = [];

    public List<DiagnosticInfo> Diagnostics => _diagnostics;

    /// <summary>Every shape collected so far, in a stable order.</summary>
    public EquatableArray<ShapeModel> Shapes(string? except = null) =>
        _shapes.Where(p => p.Value is not null && p.Key != except).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Value!).ToEquatableArray();

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
            AddEnumShape(enumType, fqn);
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
                return element is null ? null : new TypeModel(SerialKind.List, fqn, type.Name, element, nullableReference, true, false);
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
                return value is null ? null : new TypeModel(SerialKind.Dictionary, fqn, type.Name, value, nullableReference, true, false);
            }
        }

        if (!forceShape && !expandMessages && IsMessage(type))
        {
            return new TypeModel(SerialKind.Message, fqn, type.Name, null, nullableReference, type.IsReferenceType, false);
        }

        var problem = WhyNotAnObject(type);
        if (problem is not null)
        {
            return Unserializable(type, path, location, problem);
        }

        AddObjectShape((INamedTypeSymbol)type, fqn, path, location);
        return new TypeModel(SerialKind.Object, fqn, type.Name, null, nullableReference, type.IsReferenceType, false);
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

    private void AddEnumShape(INamedTypeSymbol type, string fqn)
    {
        if (_shapes.ContainsKey(fqn))
        {
            return;
        }

        var members = type.GetMembers().OfType<IFieldSymbol>().Where(f => f.HasConstantValue)
            .Select(f => new EnumMemberModel(f.Name, AttributeString(f, MetadataNames.JsonStringEnumMemberNameAttribute) ?? f.Name.ToCamelCase()))
            .ToEquatableArray();
        _shapes[fqn] = new ShapeModel(fqn, type.Name, true, true, EquatableArray<MemberModel>.Empty, 0, members);
    }

    private void AddObjectShape(INamedTypeSymbol type, string fqn, string path, Location? location)
    {
        if (_shapes.ContainsKey(fqn))
        {
            return;
        }

        // Reserve the name first: a type that contains itself (a tree) must not recurse forever.
        _shapes[fqn] = null;
        var properties = new List<IPropertySymbol>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var current = type; current is not null && current.SpecialType != SpecialType.System_Object && current.SpecialType != SpecialType.System_ValueType; current = current.BaseType)
        {
            foreach (var property in current.GetMembers().OfType<IPropertySymbol>())
            {
                if (property is { IsStatic: false, IsIndexer: false, DeclaredAccessibility: Accessibility.Public, GetMethod.DeclaredAccessibility: Accessibility.Public }
                    && !HasAttribute(property, MetadataNames.JsonIgnoreAttribute)
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
            var jsonName = AttributeString(property, MetadataNames.JsonPropertyNameAttribute) ?? property.Name.ToCamelCase();
            if (!jsonNames.Add(jsonName))
            {
                _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnserializableMember, memberLocation, type.ToDisplayString(), $"{path}.{jsonName}", "two members have this JSON name"));
                continue;
            }

            var memberType = Classify(property.Type, $"{path}.{jsonName}", memberLocation);
            if (memberType is null)
            {
                continue;
            }

            var canRead = parameterIndex >= 0 || property.SetMethod is { DeclaredAccessibility: Accessibility.Public };
            var constraints = ParseConstraints(property, parameter, memberType, $"{type.Name}.{property.Name}", memberLocation);
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
            members.Add(new MemberModel(property.Name, jsonName, memberType, required, canRead, parameterIndex, defaultLiteral, constraints, setter, Fqn(property.ContainingType)));
        }

        if (constructor is null && !type.IsValueType)
        {
            _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotConstructible, type.Locations.FirstOrDefault(l => l.IsInSource) ?? location, type.ToDisplayString(),
                "it needs a public constructor whose parameters all match public properties by name, or a public parameterless one"));
        }

        _shapes[fqn] = new ShapeModel(fqn, type.Name, false, type.IsValueType, members.ToEquatableArray(), constructor?.Parameters.Length ?? 0, EquatableArray<EnumMemberModel>.Empty);
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

    private ConstraintModel ParseConstraints(IPropertySymbol property, IParameterSymbol? parameter, TypeModel type, string memberName, Location? memberLocation)
    {
        var required = false;
        var allowEmpty = false;
        int? min = null;
        int? max = null;
        var lengthIsCount = false;
        double? rangeMin = null;
        double? rangeMax = null;
        bool rangeMinExclusive = false, rangeMaxExclusive = false;
        var allowed = new List<string>();
        var allowedJson = new List<string>();
        string? pattern = null;

        var core = type.Kind == SerialKind.NullableValue ? type.Element! : type;
        var isString = core.Kind == SerialKind.Builtin && core.Name == "String";
        var isCollection = core.Kind is SerialKind.Array or SerialKind.List or SerialKind.Dictionary;
        var attributes = property.GetAttributes().Concat(parameter?.GetAttributes() ?? Enumerable.Empty<AttributeData>());
        foreach (var attribute in attributes)
        {
            var name = attribute.AttributeClass?.ToDisplayString();
            if (name is null || !name.StartsWith(MetadataNames.DataAnnotations, StringComparison.Ordinal))
            {
                continue;
            }

            var shortName = name.Substring(MetadataNames.DataAnnotations.Length).Replace("Attribute", string.Empty);
            var location = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation() ?? memberLocation;
            void Inapplicable(string reason) =>
                _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InapplicableConstraint, location, shortName, $"{memberName} ({core.Fqn.Replace("global::", string.Empty)})", reason));

            switch (shortName)
            {
                case "Required":
                    required = true;
                    allowEmpty = Named(attribute, "AllowEmptyStrings") is true;
                    break;
                case "StringLength":
                    if (!isString)
                    {
                        Inapplicable("it limits the length of strings only");
                        break;
                    }

                    max = attribute.ConstructorArguments.FirstOrDefault().Value as int?;
                    min = Named(attribute, "MinimumLength") as int? ?? 0;
                    if (min > max || max < 0)
                    {
                        Inapplicable($"its minimum length {min} is greater than its maximum {max}, so no value passes");
                        min = max = null;
                    }

                    break;
                case "MinLength":
                case "MaxLength":
                    if (!isString && !isCollection)
                    {
                        Inapplicable("it limits the length of strings and collections only");
                        break;
                    }

                    var limit = attribute.ConstructorArguments.FirstOrDefault().Value as int?;
                    if (limit is null or < 0)
                    {
                        break;
                    }

                    lengthIsCount = isCollection;
                    if (shortName == "MinLength")
                    {
                        min = limit;
                    }
                    else
                    {
                        max = limit;
                    }

                    break;
                case "Range":
                    if (!core.IsNumeric)
                    {
                        Inapplicable("it bounds numbers only");
                        break;
                    }

                    var arguments = attribute.ConstructorArguments;
                    if (arguments.Length == 2)
                    {
                        rangeMin = Convert.ToDouble(arguments[0].Value, CultureInfo.InvariantCulture);
                        rangeMax = Convert.ToDouble(arguments[1].Value, CultureInfo.InvariantCulture);
                    }
                    else if (arguments.Length == 3
                        && double.TryParse(arguments[1].Value as string, NumberStyles.Float, CultureInfo.InvariantCulture, out var low)
                        && double.TryParse(arguments[2].Value as string, NumberStyles.Float, CultureInfo.InvariantCulture, out var high))
                    {
                        rangeMin = low;
                        rangeMax = high;
                    }
                    else
                    {
                        Inapplicable("its bounds must be numbers");
                        break;
                    }

                    if (rangeMin > rangeMax)
                    {
                        Inapplicable($"its minimum {rangeMin} is greater than its maximum {rangeMax}, so no value passes");
                        rangeMin = rangeMax = null;
                        break;
                    }

                    rangeMinExclusive = Named(attribute, "MinimumIsExclusive") is true;
                    rangeMaxExclusive = Named(attribute, "MaximumIsExclusive") is true;
                    break;
                case "AllowedValues":
                    var values = attribute.ConstructorArguments.FirstOrDefault();
                    var list = values.Kind == TypedConstantKind.Array ? values.Values.ToList() : new List<TypedConstant> { values };
                    foreach (var value in list)
                    {
                        var literal = AllowedLiteral(value, core, type);
                        if (literal is null)
                        {
                            Inapplicable($"the value {(value.IsNull ? "null" : value.Value?.ToString() ?? "?")} is not a {core.Fqn.Replace("global::", string.Empty)}");
                            allowed.Clear();
                            allowedJson.Clear();
                            break;
                        }

                        allowed.Add(literal);
                        allowedJson.Add(AllowedJson(value, core));
                    }

                    break;
                case "RegularExpression":
                    if (!isString)
                    {
                        Inapplicable("it matches strings only");
                        break;
                    }

                    pattern = attribute.ConstructorArguments.FirstOrDefault().Value as string;
                    try
                    {
                        _ = new Regex(pattern ?? string.Empty);
                    }
                    catch (ArgumentException ex)
                    {
                        _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidPattern, MessageParser.ArgumentLocation(attribute, cancellationToken) ?? location, memberName, ex.Message));
                        pattern = null;
                    }

                    break;
            }
        }

        if (type.Kind is SerialKind.Object or SerialKind.Message && (min is not null || max is not null))
        {
            min = max = null;
        }

        return new ConstraintModel(required, allowEmpty, min, max, lengthIsCount, rangeMin, rangeMax, rangeMinExclusive, rangeMaxExclusive, allowed.ToEquatableArray(), allowedJson.ToEquatableArray(), pattern);
    }

    private static string? AllowedLiteral(TypedConstant value, TypeModel core, TypeModel declared)
    {
        if (value.IsNull)
        {
            return declared.IsReferenceType || declared.Kind == SerialKind.NullableValue ? "null" : null;
        }

        if (core.Kind == SerialKind.Builtin && core.Name == "String")
        {
            return value.Value is string s ? s.ToLiteral() : null;
        }

        if (core.Kind == SerialKind.Enum)
        {
            return value.Type?.TypeKind == Microsoft.CodeAnalysis.TypeKind.Enum && Fqn(value.Type) == core.Fqn
                ? $"({core.Fqn})({Convert.ToString(value.Value, CultureInfo.InvariantCulture)})"
                : null;
        }

        if (core.IsNumeric && value.Value is IConvertible and not string and not bool and not char)
        {
            return $"({core.Fqn})({Convert.ToString(value.Value, CultureInfo.InvariantCulture)})";
        }

        return null;
    }

    /// <summary>An allowed value as JSON, the way the serializer writes it (enums by their JSON name).</summary>
    private static string AllowedJson(TypedConstant value, TypeModel core)
    {
        if (value.IsNull)
        {
            return "null";
        }

        if (value.Value is string text)
        {
            return text.ToJsonString();
        }

        if (core.Kind == SerialKind.Enum && value.Type is INamedTypeSymbol enumType)
        {
            var field = enumType.GetMembers().OfType<IFieldSymbol>().FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, value.Value));
            var name = field is null ? Convert.ToString(value.Value, CultureInfo.InvariantCulture) : AttributeString(field, MetadataNames.JsonStringEnumMemberNameAttribute) ?? field.Name.ToCamelCase();
            return name.ToJsonString();
        }

        return value.Value is IFormattable number ? number.ToString(null, CultureInfo.InvariantCulture) : "null";
    }

    /// <summary>Whether the property's declaration has an initializer; true when it is not in source (unknown).</summary>
    private bool HasInitializerOrUnknown(IPropertySymbol property)
    {
        if (property.DeclaringSyntaxReferences.IsEmpty)
        {
            return true;
        }

        return property.DeclaringSyntaxReferences.Any(r => r.GetSyntax(cancellationToken) is Microsoft.CodeAnalysis.CSharp.Syntax.PropertyDeclarationSyntax { Initializer: not null });
    }

    private static object? Named(AttributeData attribute, string name)
    {
        foreach (var pair in attribute.NamedArguments)
        {
            if (pair.Key == name)
            {
                return pair.Value.Value;
            }
        }

        return null;
    }

    private static bool HasAttribute(ISymbol symbol, string metadataName) =>
        symbol.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == metadataName);

    private static string? AttributeString(ISymbol symbol, string metadataName) =>
        symbol.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == metadataName)?.ConstructorArguments.FirstOrDefault().Value as string;

    private static string? Literal(object? value, ITypeSymbol type) => value switch
    {
        null => "default",
        string s => s.ToLiteral(),
        bool b => b ? "true" : "false",
        char c => Microsoft.CodeAnalysis.CSharp.SymbolDisplay.FormatLiteral(c, quote: true),
        _ when type.TypeKind == Microsoft.CodeAnalysis.TypeKind.Enum => $"({Fqn(type)})({Convert.ToString(value, CultureInfo.InvariantCulture)})",
        _ => $"({Fqn(type)})({Convert.ToString(value, CultureInfo.InvariantCulture)})",
    };
}

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
/// Reads the data annotations of one member into a <see cref="ConstraintModel"/>, matching the attributes by symbol,
/// and reports those that cannot apply to the member's type (ORI008) or whose pattern does not compile (ORI009).
/// </summary>
internal sealed class ConstraintParser(KnownTypes known, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
{
    private enum Annotation
    {
        Required,
        StringLength,
        MinLength,
        MaxLength,
        Range,
        AllowedValues,
        RegularExpression,
    }

    public ConstraintModel Parse(IPropertySymbol property, IParameterSymbol? parameter, TypeModel type, string memberName, Location? memberLocation)
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
            var kind = Kind(attribute.AttributeClass);
            if (kind is null)
            {
                continue;
            }

            var shortName = kind.Value.ToString();
            var location = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation() ?? memberLocation;
            void Inapplicable(string reason) =>
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InapplicableConstraint, location, shortName, $"{memberName} ({core.Fqn.Replace("global::", string.Empty)})", reason));

            switch (kind.Value)
            {
                case Annotation.Required:
                    required = true;
                    allowEmpty = Named(attribute, "AllowEmptyStrings") is true;
                    break;
                case Annotation.StringLength:
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
                case Annotation.MinLength:
                case Annotation.MaxLength:
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
                    if (kind == Annotation.MinLength)
                    {
                        min = limit;
                    }
                    else
                    {
                        max = limit;
                    }

                    break;
                case Annotation.Range:
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
                case Annotation.AllowedValues:
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
                case Annotation.RegularExpression:
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
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidPattern, MessageParser.ArgumentLocation(attribute, cancellationToken) ?? location, memberName, ex.Message));
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
            return value.Type?.TypeKind == Microsoft.CodeAnalysis.TypeKind.Enum && TypeParser.Fqn(value.Type) == core.Fqn
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
    private string AllowedJson(TypedConstant value, TypeModel core)
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
            var name = field is null ? Convert.ToString(value.Value, CultureInfo.InvariantCulture) : (KnownTypes.Find(field, known.JsonStringEnumMemberName)?.ConstructorArguments.FirstOrDefault().Value as string) ?? field.Name.ToCamelCase();
            return name.ToJsonString();
        }

        return value.Value is IFormattable number ? number.ToString(null, CultureInfo.InvariantCulture) : "null";
    }

    private Annotation? Kind(INamedTypeSymbol? attribute)
    {
        if (attribute is null)
        {
            return null;
        }

        var annotations = new (INamedTypeSymbol? Symbol, Annotation Kind)[]
        {
            (known.Required, Annotation.Required),
            (known.StringLength, Annotation.StringLength),
            (known.MinLength, Annotation.MinLength),
            (known.MaxLength, Annotation.MaxLength),
            (known.Range, Annotation.Range),
            (known.AllowedValues, Annotation.AllowedValues),
            (known.RegularExpression, Annotation.RegularExpression),
        };
        foreach (var (symbol, kind) in annotations)
        {
            if (SymbolEqualityComparer.Default.Equals(attribute, symbol))
            {
                return kind;
            }
        }

        return null;
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
}

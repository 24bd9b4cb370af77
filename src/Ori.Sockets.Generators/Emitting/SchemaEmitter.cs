using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Ori.Sockets.Generators.Helpers;
using Ori.Sockets.Generators.Model;

namespace Ori.Sockets.Generators.Emitting;

/// <summary>
/// Writes the JSON Schema (draft 2020-12) of a message from the same shapes its serializer is generated
/// from, so that the schema and the validator agree: required members, types, and every constraint.
/// Object types other than the root go to <c>$defs</c> (a type that contains itself refers to itself).
/// </summary>
internal static class SchemaEmitter
{
    internal const string GuidPattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
    private const string TimeSpanPattern = "^-?(\\d+\\.)?\\d{1,2}:\\d{2}:\\d{2}(\\.\\d{1,7})?$";
    private const string TimeOnlyPattern = "^\\d{1,2}:\\d{2}(:\\d{2}(\\.\\d{1,7})?)?$";

    public static string Emit(MessageModel message)
    {
        var context = new Context(message.Shape.Fqn, new EquatableArray<ShapeModel>(message.Dependencies.Concat(message.SchemaOnlyShapes)));
        var json = new StringBuilder();
        json.Append("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\"");
        json.Append(",\"title\":").Append(message.Name.ToJsonString());
        json.Append(",\"description\":").Append($"The data of the '{message.WireName}' message.".ToJsonString());
        AppendObjectBody(json, message.Shape, context);

        // $defs grow while they are written (a definition can refer to another): write until none is left.
        if (context.Pending.Count > 0)
        {
            json.Append(",\"$defs\":{");
            var written = 0;
            while (context.Pending.Count > 0)
            {
                var (id, shape) = context.Pending.Dequeue();
                if (written++ > 0)
                {
                    json.Append(',');
                }

                json.Append(id.ToJsonString()).Append(":{");
                if (shape.IsEnum)
                {
                    json.Append(EnumBody(shape));
                }
                else
                {
                    json.Append("\"title\":").Append(shape.Name.ToJsonString());
                    AppendObjectBody(json, shape, context);
                }

                json.Append('}');
            }

            json.Append('}');
        }

        return json.Append('}').ToString();
    }

    /// <summary>
    /// Every shape as one schema each, for a document's <c>components.schemas</c> (AsyncAPI): references between them are
    /// <c>#/components/schemas/{name}</c> with the names given, so no schema needs <c>$defs</c>.
    /// </summary>
    public static string Components(IReadOnlyList<ShapeModel> shapes, IReadOnlyDictionary<string, string> names)
    {
        var context = new Context(string.Empty, new EquatableArray<ShapeModel>(shapes), names);
        var json = new StringBuilder("{");
        for (var i = 0; i < shapes.Count; i++)
        {
            var shape = shapes[i];
            if (i > 0)
            {
                json.Append(',');
            }

            json.Append(names[shape.Fqn].ToJsonString()).Append(":{");
            if (shape.IsEnum)
            {
                json.Append(EnumBody(shape));
            }
            else
            {
                json.Append("\"title\":").Append(shape.Name.ToJsonString());
                AppendObjectBody(json, shape, context);
            }

            json.Append('}');
        }

        return json.Append('}').ToString();
    }

    /// <summary>The schema of a value of <paramref name="type"/>, its object types referred to in <c>components.schemas</c>.</summary>
    public static string TypeSchema(TypeModel type, IReadOnlyList<ShapeModel> shapes, IReadOnlyDictionary<string, string> names) =>
        "{" + TypeSchemaBody(type, new Context(string.Empty, new EquatableArray<ShapeModel>(shapes), names)) + "}";

    private static void AppendObjectBody(StringBuilder json, ShapeModel shape, Context context)
    {
        json.Append(",\"type\":\"object\",\"properties\":{");
        for (var i = 0; i < shape.Members.Count; i++)
        {
            var member = shape.Members[i];
            if (i > 0)
            {
                json.Append(',');
            }

            json.Append(member.JsonName.ToJsonString()).Append(':').Append(MemberSchema(member, context));
        }

        json.Append('}');
        var required = shape.Members.Where(m => m.Required && m.CanRead).Select(m => m.JsonName.ToJsonString()).ToList();
        if (required.Count > 0)
        {
            json.Append(",\"required\":[").Append(string.Join(",", required)).Append(']');
        }
    }

    private static string MemberSchema(MemberModel member, Context context)
    {
        var c = member.Constraints;
        var keywords = new List<string> { TypeSchemaBody(member.Type, context, withBounds: c.RangeMin is null) };
        var core = member.Type.Kind == SerialKind.NullableValue ? member.Type.Element! : member.Type;
        var isString = core.Kind == SerialKind.Builtin && core.Name == "String";
        var patterns = new List<string>();
        if (c.Required && isString && !c.AllowEmptyStrings)
        {
            patterns.Add("\\S");
        }

        if (c.MinLength is not null || c.MaxLength is not null)
        {
            var (min, max) = !c.LengthIsCount ? ("minLength", "maxLength")
                : core.Kind == SerialKind.Dictionary ? ("minProperties", "maxProperties")
                : ("minItems", "maxItems");
            if (c.MinLength is > 0)
            {
                keywords.Add($"\"{min}\":{c.MinLength.Value.ToString(CultureInfo.InvariantCulture)}");
            }

            if (c.MaxLength is not null)
            {
                keywords.Add($"\"{max}\":{c.MaxLength.Value.ToString(CultureInfo.InvariantCulture)}");
            }
        }

        if (c.RangeMin is not null && c.RangeMax is not null)
        {
            // One bound of each side: the tighter of the type's own and the [Range]'s (each keyword once).
            var (min, minExclusive) = Tighter(core, c.RangeMin.Value, c.RangeMinExclusive, lower: true);
            var (max, maxExclusive) = Tighter(core, c.RangeMax.Value, c.RangeMaxExclusive, lower: false);
            keywords.Add($"\"{(minExclusive ? "exclusiveMinimum" : "minimum")}\":{min}");
            keywords.Add($"\"{(maxExclusive ? "exclusiveMaximum" : "maximum")}\":{max}");
        }

        if (c.AllowedJson.Count > 0)
        {
            keywords.Add($"\"enum\":[{string.Join(",", c.AllowedJson)}]");
        }

        if (c.Pattern is not null)
        {
            // The validator wants the whole value to match, as [RegularExpression] does.
            patterns.Add("^(?:" + c.Pattern + ")$");
        }

        if (patterns.Count == 1)
        {
            keywords.Add("\"pattern\":" + patterns[0].ToJsonString());
        }
        else if (patterns.Count > 1)
        {
            keywords.Add("\"allOf\":[" + string.Join(",", patterns.Select(p => "{\"pattern\":" + p.ToJsonString() + "}")) + "]");
        }

        return "{" + string.Join(",", keywords.Where(k => k.Length > 0)) + "}";
    }

    /// <summary>The keywords (without braces) that describe a type, null included when it accepts null; a number's own bounds unless a [Range] gives them.</summary>
    private static string TypeSchemaBody(TypeModel type, Context context, bool withBounds = true)
    {
        var body = type.Kind switch
        {
            SerialKind.Builtin => withBounds ? Builtin(type.Name) : Unbounded(type.Name),
            SerialKind.NullableValue => $"\"anyOf\":[{{{TypeSchemaBody(type.Element!, context, withBounds)}}},{{\"type\":\"null\"}}]",
            SerialKind.Array or SerialKind.List => $"\"type\":\"array\",\"items\":{{{TypeSchemaBody(type.Element!, context)}}}",
            SerialKind.Dictionary => $"\"type\":\"object\",\"additionalProperties\":{{{TypeSchemaBody(type.Element!, context)}}}",
            SerialKind.Enum or SerialKind.Object or SerialKind.Message => context.Reference(type.Fqn) is { } reference ? "\"$ref\":" + reference.ToJsonString() : string.Empty,
            _ => string.Empty,
        };
        return type.NullableReference ? $"\"anyOf\":[{{{body}}},{{\"type\":\"null\"}}]" : body;
    }

    private static string EnumBody(ShapeModel shape) =>
        "\"title\":" + shape.Name.ToJsonString() + ",\"type\":\"string\",\"enum\":[" + string.Join(",", shape.EnumMembers.Select(m => m.JsonName.ToJsonString())) + "]";

    private static string Builtin(string name) => name switch
    {
        "String" => "\"type\":\"string\"",
        "Boolean" => "\"type\":\"boolean\"",
        "Byte" or "SByte" or "Int16" or "UInt16" or "Int32" or "UInt32" or "Int64" or "UInt64" => Integer(NumberBounds[name].Min, NumberBounds[name].Max),
        "Single" or "Decimal" => $"\"type\":\"number\",\"minimum\":{NumberBounds[name].Min},\"maximum\":{NumberBounds[name].Max}",
        "Double" => "\"type\":\"number\"",
        "Char" => "\"type\":\"string\",\"minLength\":1,\"maxLength\":1",
        "Guid" => "\"type\":\"string\",\"format\":\"uuid\",\"pattern\":" + GuidPattern.ToJsonString(),
        "DateTime" or "DateTimeOffset" => "\"type\":\"string\",\"format\":\"date-time\"",
        "DateOnly" => "\"type\":\"string\",\"format\":\"date\"",
        "TimeOnly" => "\"type\":\"string\",\"pattern\":" + TimeOnlyPattern.ToJsonString(),
        "TimeSpan" => "\"type\":\"string\",\"pattern\":" + TimeSpanPattern.ToJsonString(),
        _ => string.Empty,
    };

    private static string Integer(string min, string max) => $"\"type\":\"integer\",\"minimum\":{min},\"maximum\":{max}";

    /// <summary>A number's type keywords without its bounds (a [Range] gives them).</summary>
    private static string Unbounded(string name)
    {
        var body = Builtin(name);
        var bounds = body.IndexOf(",\"minimum\"", System.StringComparison.Ordinal);
        return bounds < 0 ? body : body.Substring(0, bounds);
    }

    /// <summary>The bounds of the bounded number types, as their schemas state them (exactly, for 64-bit integers).</summary>
    internal static readonly Dictionary<string, (string Min, string Max)> NumberBounds = new(System.StringComparer.Ordinal)
    {
        ["Byte"] = ("0", "255"),
        ["SByte"] = ("-128", "127"),
        ["Int16"] = ("-32768", "32767"),
        ["UInt16"] = ("0", "65535"),
        ["Int32"] = ("-2147483648", "2147483647"),
        ["UInt32"] = ("0", "4294967295"),
        ["Int64"] = ("-9223372036854775808", "9223372036854775807"),
        ["UInt64"] = ("0", "18446744073709551615"),
        ["Single"] = ("-3.4028234663852886E+38", "3.4028234663852886E+38"),
        ["Decimal"] = ("-79228162514264337593543950335", "79228162514264337593543950335"),
    };

    /// <summary>The tighter of a type's own bound and a [Range]'s, as JSON, with whether it is exclusive.</summary>
    private static (string Text, bool Exclusive) Tighter(TypeModel type, double range, bool exclusive, bool lower)
    {
        if (type.Kind == SerialKind.Builtin && NumberBounds.TryGetValue(type.Name, out var bounds))
        {
            var text = lower ? bounds.Min : bounds.Max;
            var own = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            if (lower ? own > range : own < range)
            {
                return (text, false);
            }
        }

        return (Number(range), exclusive);
    }

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private sealed class Context(string rootFqn, EquatableArray<ShapeModel> shapes, IReadOnlyDictionary<string, string>? components = null)
    {
        private readonly Dictionary<string, string> _ids = new(System.StringComparer.Ordinal);
        private readonly HashSet<string> _usedIds = new(System.StringComparer.Ordinal);

        public Queue<(string Id, ShapeModel Shape)> Pending { get; } = new();

        /// <summary>The reference to a type's schema: the root itself, or a $defs entry (added on first use); null when unknown.</summary>
        public string? Reference(string fqn)
        {
            if (components is not null)
            {
                return components.TryGetValue(fqn, out var name) ? "#/components/schemas/" + name : null;
            }

            if (fqn == rootFqn)
            {
                return "#";
            }

            if (!_ids.TryGetValue(fqn, out var id))
            {
                var shape = shapes.FirstOrDefault(s => s.Fqn == fqn);
                if (shape is null)
                {
                    return null;
                }

                id = shape.Name;
                for (var n = 2; !_usedIds.Add(id); n++)
                {
                    id = shape.Name + n.ToString(CultureInfo.InvariantCulture);
                }

                _ids[fqn] = id;
                Pending.Enqueue((id, shape));
            }

            return "#/$defs/" + id;
        }
    }
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Ori.Sockets.Generators.Helpers;
using Ori.Sockets.Generators.Model;

namespace Ori.Sockets.Generators.Emitting;

/// <summary>
/// The validators of the TypeScript module: per shape, a function that checks a value as the generated C# reader does
/// (JSON types, required members, null where it is not allowed, lengths, ranges, allowed values, patterns, enum names,
/// the bounds of integer types) and reports each failure with the reader's JSON path; and <c>validateRequest</c>, per
/// route, for the data a client is about to send.
/// </summary>
internal static class TypeScriptValidators
{
    public static void Append(StringBuilder ts, List<ShapeModel> shapes, Dictionary<string, string> names, EquatableArray<RouteModel> routes)
    {
        ts.Append('\n').Append("""
            /** One failure: the JSON path of the value (as the server reports it) and what is wrong. */
            export interface ValidationError {
              readonly path: string;
              readonly message: string;
            }

            function member(path: string, name: string): string {
              return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? `${path}.${name}` : `${path}['${name.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}']`;
            }

            function isObject(value: unknown): value is Record<string, unknown> {
              return typeof value === "object" && value !== null && !Array.isArray(value);
            }

            function isInteger(value: unknown, min: number, max: number): boolean {
              return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
            }

            """.Replace("\r\n", "\n"));
        foreach (var shape in shapes)
        {
            var name = names[shape.Fqn];
            ts.Append("\n/** Checks a ").Append(name).Append(" as the server's reader does; returns every failure (none: valid). */\n");
            ts.Append("export function validate").Append(name).Append("(value: unknown, path = \"$.data\"): ValidationError[] {\n  const errors: ValidationError[] = [];\n  check").Append(name).Append("(value, path, errors);\n  return errors;\n}\n\n");
            ts.Append("function check").Append(name).Append("(value: unknown, path: string, errors: ValidationError[]): void {\n");
            if (shape.IsEnum)
            {
                ts.Append("  if (typeof value !== \"string\" || ![").Append(string.Join(", ", shape.EnumMembers.Select(e => e.JsonName.ToJsonString()))).Append("].includes(value)) errors.push({ path, message: ")
                    .Append($"\"One of: {string.Join(", ", shape.EnumMembers.Select(e => e.JsonName))}.\"".Replace("\\", "\\\\")).Append(" });\n}\n");
                continue;
            }

            ts.Append("  if (!isObject(value)) {\n    errors.push({ path, message: \"An object is expected.\" });\n    return;\n  }\n\n");
            foreach (var m in shape.Members.Where(m => m.CanRead))
            {
                var key = m.JsonName.ToJsonString();
                var at = "member(path, " + key + ")";
                var nullable = m.Type.Kind == SerialKind.NullableValue || m.Type.NullableReference;
                ts.Append("  {\n    const v = value[").Append(key).Append("];\n    const at = ").Append(at).Append(";\n");
                ts.Append("    if (v === undefined) {\n");
                if (m.Required)
                {
                    ts.Append("      errors.push({ path: at, message: \"The member is required.\" });\n");
                }

                ts.Append("    } else if (v === null) {\n");
                if (!nullable)
                {
                    ts.Append("      errors.push({ path: at, message: \"null is not allowed.\" });\n");
                }

                ts.Append("    } else {\n");
                var core = m.Type.Kind == SerialKind.NullableValue ? m.Type.Element! : m.Type;
                AppendTypeCheck(ts, core, "v", "at", names, "      ");
                AppendConstraints(ts, m.Constraints, core, "      ");
                ts.Append("    }\n  }\n");
            }

            ts.Append("}\n");
        }

        ts.Append("\n/** Per route: checks the data a client is about to send, as the server will. */\nexport const validateRequest: { readonly [K in keyof Routes]: (data: unknown) => ValidationError[] } = {\n");
        foreach (var route in routes.OrderBy(r => r.RouteName, StringComparer.Ordinal))
        {
            ts.Append("  ").Append(route.RouteName.ToJsonString()).Append(": ");
            ts.Append(route.Message is not null && names.TryGetValue(route.Message.Fqn, out var n) ? "(data) => validate" + n + "(data)" : "() => []").Append(",\n");
        }

        ts.Append("};\n");
    }

    /// <summary>The JSON type of a value, and what is inside it (elements, members), as the reader reads it.</summary>
    private static void AppendTypeCheck(StringBuilder ts, TypeModel type, string value, string path, Dictionary<string, string> names, string indent)
    {
        string? failure = type.Kind switch
        {
            SerialKind.Builtin => Builtin(type.Name, value),
            _ => null,
        };
        if (failure is not null)
        {
            ts.Append(indent).Append("if (").Append(failure).Append(") errors.push({ path: ").Append(path).Append(", message: ").Append(($"A {Describe(type.Name)} is expected.").ToJsonString()).Append(" });\n");
            return;
        }

        switch (type.Kind)
        {
            case SerialKind.Enum or SerialKind.Object or SerialKind.Message when names.TryGetValue(type.Fqn, out var name):
                ts.Append(indent).Append("check").Append(name).Append('(').Append(value).Append(", ").Append(path).Append(", errors);\n");
                break;
            case SerialKind.Array or SerialKind.List:
                ts.Append(indent).Append("if (!Array.isArray(").Append(value).Append(")) errors.push({ path: ").Append(path).Append(", message: \"An array is expected.\" });\n");
                ts.Append(indent).Append("else ").Append(value).Append(".forEach((item: unknown, i: number) => {\n");
                ts.Append(indent).Append("  const itemAt = `${").Append(path).Append("}[${i}]`;\n");
                AppendElement(ts, type.Element!, "item", "itemAt", names, indent + "  ");
                ts.Append(indent).Append("});\n");
                break;
            case SerialKind.Dictionary:
                ts.Append(indent).Append("if (!isObject(").Append(value).Append(")) errors.push({ path: ").Append(path).Append(", message: \"An object is expected.\" });\n");
                ts.Append(indent).Append("else for (const [k, item] of Object.entries(").Append(value).Append(")) {\n");
                ts.Append(indent).Append("  const itemAt = member(").Append(path).Append(", k);\n");
                AppendElement(ts, type.Element!, "item", "itemAt", names, indent + "  ");
                ts.Append(indent).Append("}\n");
                break;
        }
    }

    private static void AppendElement(StringBuilder ts, TypeModel element, string value, string path, Dictionary<string, string> names, string indent)
    {
        var nullable = element.Kind == SerialKind.NullableValue || element.NullableReference;
        var core = element.Kind == SerialKind.NullableValue ? element.Element! : element;
        ts.Append(indent).Append("if (").Append(value).Append(" === null) {\n");
        if (!nullable)
        {
            ts.Append(indent).Append("  errors.push({ path: ").Append(path).Append(", message: \"null is not allowed.\" });\n");
        }

        ts.Append(indent).Append("} else {\n");
        AppendTypeCheck(ts, core, value, path, names, indent + "  ");
        ts.Append(indent).Append("}\n");
    }

    private static string? Builtin(string name, string v) => name switch
    {
        "String" => $"typeof {v} !== \"string\"",
        "Char" => $"typeof {v} !== \"string\" || {v}.length !== 1",
        "Boolean" => $"typeof {v} !== \"boolean\"",
        "Byte" or "SByte" or "Int16" or "UInt16" or "Int32" or "UInt32" or "Int64" or "UInt64" =>
            $"!isInteger({v}, {SchemaEmitter.NumberBounds[name].Min}, {SchemaEmitter.NumberBounds[name].Max})",
        "Single" => $"typeof {v} !== \"number\" || !Number.isFinite({v}) || Math.abs({v}) > 3.4028234663852886e38",
        "Double" or "Decimal" => $"typeof {v} !== \"number\" || !Number.isFinite({v})",
        "Guid" => $"typeof {v} !== \"string\" || !/{SchemaEmitter.GuidPattern}/.test({v})",
        _ => $"typeof {v} !== \"string\"",
    };

    private static string Describe(string name) => name switch
    {
        "Boolean" => "boolean",
        "Byte" or "SByte" or "Int16" or "UInt16" or "Int32" or "UInt32" or "Int64" or "UInt64" => "whole number in range",
        "Single" or "Double" or "Decimal" => "number",
        "Char" => "single character",
        "Guid" => "GUID",
        _ => "string",
    };

    /// <summary>The data-annotation rules, in the reader's order, on a value of the right JSON type.</summary>
    private static void AppendConstraints(StringBuilder ts, ConstraintModel c, TypeModel core, string indent)
    {
        var isString = core.Kind == SerialKind.Builtin && core.Name == "String";
        if (c.Required && isString && !c.AllowEmptyStrings)
        {
            ts.Append(indent).Append("if (typeof v === \"string\" && v.trim().length === 0) errors.push({ path: at, message: \"The member must not be empty.\" });\n");
        }

        if (c.MinLength is not null || c.MaxLength is not null)
        {
            var length = !c.LengthIsCount ? "(typeof v === \"string\" ? v.length : -1)"
                : core.Kind == SerialKind.Dictionary ? "(isObject(v) ? Object.keys(v).length : -1)"
                : "(Array.isArray(v) ? v.length : -1)";
            var checks = new List<string>();
            if (c.MinLength is > 0)
            {
                checks.Add($"n < {c.MinLength.Value.ToString(CultureInfo.InvariantCulture)}");
            }

            if (c.MaxLength is not null)
            {
                checks.Add($"n > {c.MaxLength.Value.ToString(CultureInfo.InvariantCulture)}");
            }

            if (checks.Count > 0)
            {
                ts.Append(indent).Append("{ const n = ").Append(length).Append("; if (n >= 0 && (").Append(string.Join(" || ", checks)).Append(")) errors.push({ path: at, message: ")
                    .Append($"The length must be between {c.MinLength ?? 0} and {(c.MaxLength is { } max ? max.ToString(CultureInfo.InvariantCulture) : "any")}.".ToJsonString()).Append(" }); }\n");
            }
        }

        if (c.RangeMin is not null && c.RangeMax is not null)
        {
            var min = c.RangeMin.Value.ToString("R", CultureInfo.InvariantCulture);
            var max = c.RangeMax.Value.ToString("R", CultureInfo.InvariantCulture);
            ts.Append(indent).Append("if (typeof v === \"number\" && (v ").Append(c.RangeMinExclusive ? "<=" : "<").Append(' ').Append(min).Append(" || v ").Append(c.RangeMaxExclusive ? ">=" : ">").Append(' ').Append(max)
                .Append(")) errors.push({ path: at, message: ").Append($"The value must be between {min} and {max}.".ToJsonString()).Append(" });\n");
        }

        if (c.AllowedJson.Count > 0)
        {
            ts.Append(indent).Append("if (![").Append(string.Join(", ", c.AllowedJson)).Append("].some((allowed) => allowed === v)) errors.push({ path: at, message: \"The value is not one of the allowed values.\" });\n");
        }

        if (c.Pattern is not null)
        {
            ts.Append(indent).Append("if (typeof v === \"string\" && !new RegExp(").Append(("^(?:" + c.Pattern + ")$").ToJsonString()).Append(").test(v)) errors.push({ path: at, message: \"The value does not match the pattern.\" });\n");
        }
    }
}

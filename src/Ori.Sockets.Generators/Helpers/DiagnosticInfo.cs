using System;
using Microsoft.CodeAnalysis;

namespace Ori.Sockets.Generators.Helpers;

/// <summary>
/// A diagnostic waiting to be reported. It travels apart from the models (which hold no Location),
/// and keeps the real source location so that #pragma warning disable works on it.
/// </summary>
internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, Location? Location, EquatableArray<string> Arguments)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, Location? location, params string[] arguments) =>
        new(descriptor, location, arguments.ToEquatableArray());

    public Diagnostic ToDiagnostic()
    {
        var arguments = new object[Arguments.Count];
        for (var i = 0; i < arguments.Length; i++)
        {
            arguments[i] = Arguments[i];
        }

        return Diagnostic.Create(Descriptor, Location, arguments);
    }
}

internal static class StringExtensions
{
    /// <summary>A C# string literal for <paramref name="value"/>.</summary>
    public static string ToLiteral(this string? value) =>
        value is null ? "null" : Microsoft.CodeAnalysis.CSharp.SymbolDisplay.FormatLiteral(value, quote: true);

    /// <summary>camelCase as System.Text.Json's policy writes it: leading upper-case run lowered ("URLValue" → "urlValue").</summary>
    public static string ToCamelCase(this string name)
    {
        if (string.IsNullOrEmpty(name) || !char.IsUpper(name[0]))
        {
            return name;
        }

        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (i == 1 && !char.IsUpper(chars[i]))
            {
                break;
            }

            var hasNext = i + 1 < chars.Length;
            if (i > 0 && hasNext && !char.IsUpper(chars[i + 1]))
            {
                if (char.IsSeparator(chars[i + 1]))
                {
                    chars[i] = char.ToLowerInvariant(chars[i]);
                }

                break;
            }

            chars[i] = char.ToLowerInvariant(chars[i]);
        }

        return new string(chars);
    }

    /// <summary>A JSON string literal for <paramref name="value"/>.</summary>
    public static string ToJsonString(this string value)
    {
        var builder = new System.Text.StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (c < ' ')
                    {
                        builder.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        return builder.Append('"').ToString();
    }

    /// <summary>
    /// A C# identifier made from a fully qualified type name, one to one: '_' becomes "__", '.' becomes '_', and the
    /// other characters of type names become '_' and a digit ('&lt;' _1, '&gt;' _2, ',' _3, '[' _4, ']' _5, '?' _6, others _0);
    /// spaces go. A name segment never starts with a digit, so "A.B_C" (A_B__C) and "A_B.C" (A__B_C) stay apart.
    /// </summary>
    public static string ToIdentifier(this string text)
    {
        var builder = new System.Text.StringBuilder(text.Length + 8);
        foreach (var c in text.Replace("global::", string.Empty))
        {
            switch (c)
            {
                case '_': builder.Append("__"); break;
                case '.': builder.Append('_'); break;
                case '<': builder.Append("_1"); break;
                case '>': builder.Append("_2"); break;
                case ',': builder.Append("_3"); break;
                case '[': builder.Append("_4"); break;
                case ']': builder.Append("_5"); break;
                case '?': builder.Append("_6"); break;
                case ' ': break;
                default:
                    if (char.IsLetterOrDigit(c))
                    {
                        builder.Append(c);
                    }
                    else
                    {
                        builder.Append("_0");
                    }

                    break;
            }
        }

        return builder.ToString();
    }
}

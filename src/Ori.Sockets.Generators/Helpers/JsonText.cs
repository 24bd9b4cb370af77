using System.Collections.Generic;
using System.Text;

namespace Ori.Sockets.Generators.Helpers;

/// <summary>Formats compact JSON (as the schema emitter writes it) for people: two-space indentation, one member a line.</summary>
internal static class JsonText
{
    public static List<string> Indented(string json)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        var depth = 0;
        var inString = false;
        var escaped = false;
        void NewLine()
        {
            lines.Add(line.ToString());
            line.Clear().Append(' ', depth * 2);
        }

        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            if (inString)
            {
                line.Append(c);
                if (escaped)
                {
                    escaped = false;
                }
                else if (c == '\\')
                {
                    escaped = true;
                }
                else if (c == '"')
                {
                    inString = false;
                }

                continue;
            }

            switch (c)
            {
                case '"':
                    inString = true;
                    line.Append(c);
                    break;
                case '{' or '[' when i + 1 < json.Length && json[i + 1] == (c == '{' ? '}' : ']'):
                    line.Append(c).Append(json[++i]);
                    break;
                case '{' or '[':
                    line.Append(c);
                    depth++;
                    NewLine();
                    break;
                case '}' or ']':
                    depth--;
                    NewLine();
                    line.Append(c);
                    break;
                case ',':
                    line.Append(c);
                    NewLine();
                    break;
                case ':':
                    line.Append(": ");
                    break;
                default:
                    line.Append(c);
                    break;
            }
        }

        lines.Add(line.ToString());
        return lines;
    }

    /// <summary>The quotes that open and close a raw string literal holding <paramref name="text"/>: one more than its longest run of quotes, at least three.</summary>
    public static string RawDelimiter(string text)
    {
        int longest = 0, run = 0;
        foreach (var c in text)
        {
            run = c == '"' ? run + 1 : 0;
            longest = run > longest ? run : longest;
        }

        return new string('"', longest < 3 ? 3 : longest + 1);
    }
}
